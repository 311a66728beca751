import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unique } from '../support/eventually';

// AWS behaviour relied on: TransactWriteItems is all-or-nothing; a failed condition cancels every
// write and reports which one failed, with the item's old image when ALL_OLD is asked for.
describe('DynamoDB TransactWriteItems (conformance)', () => {
  const ddb = new DynamoDBClient({});
  const table = unique('conf-tx');

  beforeAll(async () => {
    await ddb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      }),
    );
  });
  afterAll(async () => {
    await ddb.send(new DeleteTableCommand({ TableName: table }));
  });

  it('writes nothing when one condition fails, and names the failed write with its old image', async () => {
    // arrange: the aggregate exists at version 2
    await ddb.send(new PutItemCommand({ TableName: table, Item: marshall({ pk: 'agg', sk: 'STATE', version: 2 }) }));

    // act: expect version 1 while writing an event item in the same transaction
    const error = await ddb
      .send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: table, Item: marshall({ pk: 'evt', sk: '1' }), ConditionExpression: 'attribute_not_exists(pk)' } },
            {
              Put: {
                TableName: table,
                Item: marshall({ pk: 'agg', sk: 'STATE', version: 2 }),
                ConditionExpression: 'version = :v',
                ExpressionAttributeValues: marshall({ ':v': 1 }),
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ],
        }),
      )
      .catch((e: unknown) => e);

    // assert
    expect(error).toBeInstanceOf(TransactionCanceledException);
    const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
    expect(reasons.map((r) => r.Code)).toEqual(['None', 'ConditionalCheckFailed']);
    expect(reasons[1]?.Item?.version).toEqual({ N: '2' });
    const evt = await ddb.send(new GetItemCommand({ TableName: table, Key: marshall({ pk: 'evt', sk: '1' }), ConsistentRead: true }));
    expect(evt.Item).toBeUndefined();
  });

  it('writes every item when all conditions hold', async () => {
    await ddb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: marshall({ pk: 'new', sk: 'STATE', version: 1 }), ConditionExpression: 'attribute_not_exists(pk)' } },
          { Put: { TableName: table, Item: marshall({ pk: 'new-evt', sk: '1' }), ConditionExpression: 'attribute_not_exists(pk)' } },
        ],
      }),
    );
    for (const pk of ['new', 'new-evt']) {
      const got = await ddb.send(new GetItemCommand({ TableName: table, Key: marshall({ pk, sk: pk === 'new' ? 'STATE' : '1' }), ConsistentRead: true }));
      expect(got.Item).toBeDefined();
    }
  });
});
