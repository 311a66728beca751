import { DynamoDBClient, GetItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ApiCallCounter, entriesOf, instrument, operationKey, withApiCallLog } from '../../functions/toolkit/observability';
import { sumApiCalls, sumReports } from '../../bench/cloudWatchLogs';

/** A request handler that answers `statuses` in turn (then the last one), with a JSON `body`. */
function scriptedHandler(statuses: number[], body: string) {
  let attempt = 0;
  return {
    attempts: () => attempt,
    handler: {
      handle: async () => {
        const statusCode = statuses[Math.min(attempt, statuses.length - 1)]!;
        attempt += 1;
        const text = statusCode >= 500 ? '{"__type":"InternalServerError","message":"boom"}' : body;
        return { response: { statusCode, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: new TextEncoder().encode(text) } };
      },
    },
  };
}

const clientConfig = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, endpoint: 'http://127.0.0.1:9' };

describe('API call counting', () => {
  it('counts every HTTP attempt, so SDK retries are included', async () => {
    // Arrange: the first attempt fails with a retryable 500, the second succeeds.
    const lines: string[] = [];
    const counter = new ApiCallCounter((line) => lines.push(line));
    const script = scriptedHandler([500, 200], '{"Item":{"pk":{"S":"a"}}}');
    const dynamodb = instrument(new DynamoDBClient({ ...clientConfig, requestHandler: script.handler, maxAttempts: 3 }), counter);

    // Act
    const result = await dynamodb.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' } } }));

    // Assert
    expect(result.Item).toEqual({ pk: { S: 'a' } });
    expect(script.attempts()).toBe(2);
    expect(counter.snapshot()).toEqual({ 'DynamoDB.GetItem': { calls: 2, entries: 2 } });
  });

  it('counts the entries of batch operations per call', async () => {
    // Arrange
    const counter = new ApiCallCounter(() => undefined);
    const eventBridge = instrument(new EventBridgeClient({ ...clientConfig, requestHandler: scriptedHandler([200], '{"FailedEntryCount":0,"Entries":[]}').handler }), counter);
    const sqs = instrument(new SQSClient({ ...clientConfig, requestHandler: scriptedHandler([200], '{"Successful":[],"Failed":[]}').handler }), counter);
    const entries = (n: number) => Array.from({ length: n }, (_, i) => i);

    // Act
    await eventBridge.send(new PutEventsCommand({ Entries: entries(10).map((i) => ({ Source: 's', DetailType: 't', Detail: `{"i":${i}}` })) }));
    await eventBridge.send(new PutEventsCommand({ Entries: entries(3).map((i) => ({ Source: 's', DetailType: 't', Detail: `{"i":${i}}` })) }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: 'http://127.0.0.1:9/000000000000/q.fifo', Entries: entries(7).map((i) => ({ Id: String(i), MessageBody: 'x', MessageGroupId: 'g' })) }));

    // Assert
    expect(counter.snapshot()).toEqual({
      'EventBridge.PutEvents': { calls: 2, entries: 13 },
      'SQS.SendMessageBatch': { calls: 1, entries: 7 },
    });
  });

  it('counts a document client sharing an instrumented stack once per attempt', async () => {
    // Arrange
    const counter = new ApiCallCounter(() => undefined);
    const base = instrument(new DynamoDBClient({ ...clientConfig, requestHandler: scriptedHandler([200], '{"Item":{"pk":{"S":"a"}}}').handler }), counter);
    const documents = instrument(DynamoDBDocumentClient.from(base), counter);

    // Act
    await documents.send(new GetCommand({ TableName: 't', Key: { pk: 'a' } }));

    // Assert
    expect(counter.snapshot()).toEqual({ 'DynamoDB.GetItem': { calls: 1, entries: 1 } });
  });

  it('logs one line per invocation with the calls made, only when there were some, also when the handler throws', async () => {
    // Arrange
    const lines: string[] = [];
    const counter = new ApiCallCounter((line) => lines.push(line));
    const dynamodb = instrument(new DynamoDBClient({ ...clientConfig, requestHandler: scriptedHandler([200], '{}').handler }), counter);
    const handler = withApiCallLog(async (calls: number) => {
      for (let i = 0; i < calls; i++) await dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 't', Item: { pk: { S: String(i) } } } }, { Put: { TableName: 't', Item: { pk: { S: `x${i}` } } } }] }));
      if (calls === 1) throw new Error('after the call');
      return calls;
    }, counter);

    // Act
    await handler(2);
    await handler(0);
    await expect(handler(1)).rejects.toThrow('after the call');

    // Assert
    expect(lines).toHaveLength(2);
    const parsed = lines.map((line) => JSON.parse(line) as { level: string; message: string; apiCalls: unknown });
    expect(parsed[0]).toMatchObject({ level: 'INFO', message: 'aws api calls', apiCalls: { 'DynamoDB.TransactWriteItems': { calls: 2, entries: 4 } } });
    expect(parsed[1]).toMatchObject({ apiCalls: { 'DynamoDB.TransactWriteItems': { calls: 1, entries: 2 } } });
  });

  it('names operations Service.Operation and counts entries of every batch shape', () => {
    expect(operationKey('EventBridgeClient', 'PutEventsCommand')).toBe('EventBridge.PutEvents');
    expect(operationKey('ApiGatewayManagementApiClient', 'PostToConnectionCommand')).toBe('ApiGatewayManagementApi.PostToConnection');
    expect(entriesOf({ RequestItems: { a: [1, 2], b: [3] } })).toBe(3);
    expect(entriesOf({ RequestItems: { a: { Keys: [1, 2, 3, 4] } } })).toBe(4);
    expect(entriesOf({ TableName: 't' })).toBe(1);
  });

  it('sums the log lines the bench reads back: one per invocation, as CloudWatch Logs stores them', () => {
    // Arrange: two invocations' lines, as the counter writes them, among other log lines.
    const lines: string[] = [];
    const counter = new ApiCallCounter((line) => lines.push(line));
    counter.record('EventBridge.PutEvents', 10);
    counter.record('SQS.SendMessageBatch', 10);
    counter.flush();
    counter.record('EventBridge.PutEvents', 3);
    counter.flush();
    const events = [
      { timestamp: 1, message: 'START RequestId: r1 Version: $LATEST' },
      ...lines.map((message, i) => ({ timestamp: 2 + i, message })),
      { timestamp: 5, message: '{"level":"INFO","message":"batch relayed","records":13}' },
      { timestamp: 6, message: 'REPORT RequestId: r1\tDuration: 12.5 ms\tBilled Duration: 13 ms\tMemory Size: 256 MB\tMax Memory Used: 80 MB' },
      { timestamp: 7, message: 'REPORT RequestId: r2\tDuration: 7 ms\tBilled Duration: 7 ms\tMemory Size: 256 MB\tMax Memory Used: 80 MB' },
    ];

    // Act
    const calls = sumApiCalls(events);
    const reports = sumReports(events);

    // Assert
    expect(calls).toEqual({ lines: 2, counts: { 'EventBridge.PutEvents': { calls: 2, entries: 13 }, 'SQS.SendMessageBatch': { calls: 1, entries: 10 } } });
    expect(reports).toEqual({ invocations: 2, billedMs: 20, memoryMb: 256 });
  });
});
