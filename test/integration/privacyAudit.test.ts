import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, PutItemCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateQueueCommand, DeleteQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { auditSubject, discoverStores, KmsKeyVault, PersonalDataSealer, personal, sealPersonalFields, openPersonalFields } from '../../functions/toolkit/privacy';
import { unique } from '../support/eventually';

const ddb = new DynamoDBClient({});
const sqs = new SQSClient({});
const run = unique('audit');
const keyTable = `${run}-keys`;
const dataTable = `${run}-orders`;
const readModel = `${run}-board`;
let fifoUrl = '';
let dlqUrl = '';
let sealer: PersonalDataSealer;

const Customer = z.object({ customerId: z.string(), name: personal(z.string()), email: personal(z.email()) });
const ada = { customerId: 'c-ada', name: 'Ada Lovelace', email: 'ada@example.com' };
const grace = { customerId: 'c-grace', name: 'Grace Hopper', email: 'grace@example.com' };

async function createTable(name: string, key: string): Promise<void> {
  await ddb.send(new CreateTableCommand({ TableName: name, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }], KeySchema: [{ AttributeName: key, KeyType: 'HASH' }] }));
  await waitUntilTableExists({ client: ddb, maxWaitTime: 60 }, { TableName: name });
}
const stores = () => discoverStores(ddb, sqs, (name) => name.startsWith(run));
const audit = async (subject: string, knownValues: string[]) => auditSubject({ subject: `${subject}`, stores: await stores(), canOpen: (sealed) => sealer.canOpen(sealed), knownValues });

beforeAll(async () => {
  const { KeyMetadata } = await new KMSClient({}).send(new CreateKeyCommand({ Description: 'privacy audit test' }));
  await createTable(keyTable, 'subject');
  await createTable(dataTable, 'pk');
  await createTable(readModel, 'pk');
  fifoUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${run}-orders.fifo`, Attributes: { FifoQueue: 'true' } }))).QueueUrl!;
  dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${run}-orders-dlq` }))).QueueUrl!;
  sealer = new PersonalDataSealer({ vault: new KmsKeyVault({ mode: 'envelope', dynamodb: ddb, kms: new KMSClient({}), tableName: keyTable, keyArn: KeyMetadata!.Arn! }), tombstoneCheckSeconds: 1 });

  // A customer's data spread as it would be: a domain item, an outbox-like log item, a FIFO message, a DLQ message, a read model.
  for (const customer of [ada, grace]) {
    const sealed = await sealPersonalFields(Customer, customer, customer.customerId, sealer);
    await ddb.send(new PutItemCommand({ TableName: dataTable, Item: marshall({ pk: `CUSTOMER#${customer.customerId}`, ...sealed }) }));
    await ddb.send(new PutItemCommand({ TableName: dataTable, Item: marshall({ pk: `OUTBOX#${customer.customerId}`, envelope: JSON.stringify({ type: 'coffee.customer.registered', data: sealed }) }) }));
    await sqs.send(new SendMessageCommand({ QueueUrl: fifoUrl, MessageBody: JSON.stringify({ data: sealed }), MessageGroupId: customer.customerId, MessageDeduplicationId: unique('d') }));
    await sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: JSON.stringify({ data: sealed }) }));
    await ddb.send(new PutItemCommand({ TableName: readModel, Item: marshall({ pk: `BOARD#${customer.customerId}`, waitingFor: sealed.name }) }));
  }
});
afterAll(async () => {
  for (const url of [fifoUrl, dlqUrl]) if (url) await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  for (const name of [keyTable, dataTable, readModel]) await ddb.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
});

describe('privacy audit across stores, on the local cloud', () => {
  it('finds every sealed copy of a subject readable before erasure, and no plaintext', async () => {
    const report = await audit(ada.customerId, [ada.name, ada.email]);
    const byName = Object.fromEntries(report.stores.map((s) => [s.name, s]));
    expect(byName[dataTable]).toMatchObject({ sealed: 4, readable: 4, plaintext: 0 }); // 2 fields × (domain item + log item)
    expect(byName[`${run}-orders.fifo`]).toMatchObject({ sealed: 2, readable: 2, plaintext: 0 });
    expect(byName[`${run}-orders-dlq`]).toMatchObject({ sealed: 2, readable: 2, plaintext: 0 });
    expect(byName[readModel]).toMatchObject({ sealed: 1, readable: 1, plaintext: 0 });
    expect(report.clean).toBe(false);
  });

  it('after erasure finds 0 readable copies and 0 plaintext anywhere, while other subjects still open', async () => {
    // act
    await sealer.erase(ada.customerId, { erasedBy: 'privacy-audit-test' });
    const report = await audit(ada.customerId, [ada.name, ada.email]);

    // assert: the copies are still there, sealed, and none can be read
    expect(report.stores.reduce((sum, s) => sum + s.sealed, 0)).toBe(9);
    expect(report).toMatchObject({ readable: 0, plaintext: 0, clean: true });
    const graceSealed = await sealPersonalFields(Customer, grace, grace.customerId, sealer);
    expect(await openPersonalFields(Customer, graceSealed, sealer)).toEqual(grace);
    expect((await audit(grace.customerId, [grace.name])).readable).toBe(9);
  });
});
