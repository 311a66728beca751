/**
 * What the chaos suite relies on from microburst 0.10.0 (pinned, installed into .local/venv) in front
 * of the local cloud, and from our own fault layer: the real AWS SDK sees the modelled errors, in the
 * right code, and retries them; our layer's partial batch failures and lost responses look to the SDK
 * like AWS's own.
 */
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, GetItemCommand, ProvisionedThroughputExceededException, PutItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointUrl } from '../../localstack/cloud';
import { FaultLayer } from '../chaos/faultLayer';
import { Microburst } from '../chaos/microburst';
import { unique } from '../support/eventually';

let mb: Microburst;
const table = unique('mbconf');
const direct = new DynamoDBClient({});
const NO_LAYER_FAULTS = { partialBatch: 0, lostResponse: 0, duplicate: 0, conflict: 0 };

beforeAll(async () => {
  mb = await Microburst.start(endpointUrl(), [], 'conformance');
  await direct.send(new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }));
});
afterAll(async () => {
  await direct.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  await mb?.stop();
});

describe('microburst 0.10.0 in front of the local cloud', () => {
  it('DynamoDB (JSON 1.0): a throttled PutItem is ProvisionedThroughputExceededException, and the SDK retries it to success', async () => {
    await mb.setRules([{ service: 'dynamodb', operation: 'PutItem', times: 2, error: { code: 'ProvisionedThroughputExceededException' } }]);
    const viaProxy = new DynamoDBClient({ endpoint: mb.url, maxAttempts: 3 });
    const put = await viaProxy.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'retried' } } }));
    expect(put.$metadata.attempts).toBe(3);
    expect((await direct.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'retried' } } }))).Item).toBeDefined();

    await mb.setRules([{ service: 'dynamodb', operation: 'PutItem', error: { code: 'ProvisionedThroughputExceededException' } }]);
    const error = await viaProxy.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'never' } } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect((error as ProvisionedThroughputExceededException).$metadata.attempts).toBe(3);
    expect(await mb.faults()).toEqual(expect.arrayContaining([expect.objectContaining({ service: 'dynamodb', operation: 'PutItem', action: 'error:ProvisionedThroughputExceededException' })]));
  });

  it('SQS (AWS JSON protocol): RequestThrottled arrives with the query-compatible code, which the JS SDK does not retry; a 503 it retries', async () => {
    // microburst renders SQS errors for the JSON protocol with the `x-amzn-query-error` header
    // (`AWS.SimpleQueueService.RequestThrottled;Sender`); the SDK takes the error's name from that
    // header, and that name is not in its list of throttling codes: the call fails on the first
    // attempt. Whether real SQS sends this header for throttling is not verified here: the chaos
    // profiles use it as an SQS error the code must survive, and 503s as the retried kind.
    const sqs = new SQSClient({});
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: unique('mbconf') }));
    try {
      await mb.setRules([{ service: 'sqs', operation: 'SendMessage', error: { code: 'RequestThrottled', status: 400 } }]);
      const error = await new SQSClient({ endpoint: mb.url }).send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' })).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'AWS.SimpleQueueService.RequestThrottled', $metadata: { httpStatusCode: 400, attempts: 1 } });

      await mb.setRules([{ service: 'sqs', operation: 'SendMessage', times: 1, error: { code: 'ServiceUnavailable', status: 503 } }]);
      const sent = await new SQSClient({ endpoint: mb.url }).send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
      expect(sent.$metadata.attempts).toBe(2);
    } finally {
      await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    }
  });

  it('EventBridge (JSON 1.1) and KMS: 5xx answers in their own codes', async () => {
    await mb.setRules([
      { service: 'events', operation: 'PutEvents', error: { code: 'InternalException', status: 500 } },
      { service: 'kms', operation: 'ListKeys', error: { code: 'KMSInternalException', status: 500 } },
    ]);
    const events = await new EventBridgeClient({ endpoint: mb.url, maxAttempts: 2 }).send(new PutEventsCommand({ Entries: [{ Source: 'x', DetailType: 'y', Detail: '{}' }] })).catch((e: unknown) => e);
    expect(events).toMatchObject({ name: 'InternalException', $metadata: { httpStatusCode: 500, attempts: 2 } });
    const kms = await new KMSClient({ endpoint: mb.url, maxAttempts: 2 }).send(new ListKeysCommand({})).catch((e: unknown) => e);
    expect(kms).toMatchObject({ name: 'KMSInternalException', $metadata: { httpStatusCode: 500, attempts: 2 } });
  });
});

describe('our fault layer in front of microburst', () => {
  it('a partial SendMessageBatch failure inside a 200: the failed entries are reported and really not sent', async () => {
    await mb.setRules([]);
    const layer = new FaultLayer(mb.url, { ...NO_LAYER_FAULTS, partialBatch: 1 });
    const sqs = new SQSClient({});
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: unique('mblayer') }));
    try {
      const viaLayer = new SQSClient({ endpoint: await layer.listen() });
      const answer = await viaLayer.send(new SendMessageBatchCommand({ QueueUrl, Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: `body ${i}` })) }));
      expect(answer.$metadata.httpStatusCode).toBe(200);
      expect(answer.Failed?.length).toBeGreaterThan(0);
      expect((answer.Successful?.length ?? 0) + (answer.Failed?.length ?? 0)).toBe(10);
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
      expect(Number(Attributes?.ApproximateNumberOfMessages)).toBe(answer.Successful?.length ?? 0);
      expect(layer.faults()).toEqual([expect.objectContaining({ kind: 'partial-batch', service: 'sqs', operation: 'SendMessageBatch', count: answer.Failed!.length })]);
    } finally {
      await sqs.send(new DeleteQueueCommand({ QueueUrl }));
      await layer.close();
    }
  });

  it('a lost TransactWriteItems response: the SDK retries with the same ClientRequestToken, and the write happens once', async () => {
    await mb.setRules([]);
    let lose = true;
    // random() draws: 0 → this answer is lost; then 0.99 → as a 5xx (not a reset), and no later answer is lost
    const layer = new FaultLayer(mb.url, { ...NO_LAYER_FAULTS, lostResponse: 0.5 }, () => (lose ? ((lose = false), 0) : 0.99));
    try {
      const viaLayer = new DynamoDBClient({ endpoint: await layer.listen() });
      const written = await viaLayer.send(new TransactWriteItemsCommand({ TransactItems: [{ Update: { TableName: table, Key: { pk: { S: 'counter' } }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } } } }] }));
      expect(written.$metadata.attempts).toBe(2);
      const item = await direct.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'counter' } }, ConsistentRead: true }));
      expect(item.Item?.n).toEqual({ N: '1' });
      expect(layer.faults()).toEqual([expect.objectContaining({ kind: 'lost-response', operation: 'TransactWriteItems', count: 1 })]);
    } finally {
      await layer.close();
    }
  });
});
