import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { Outbox, outboxPartitionKey, readAggregate } from '../../functions/toolkit/outbox';
import { DynamoSagaStore, SagaClient, sagaEventTypes, type SagaState } from '../../functions/toolkit/saga';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { accountKey, AccountSchema, LEDGER_SOURCE, newAccount, type Account } from './saga/ledger';
import { STEP_TIMEOUT_SECONDS, TRANSFER_SAGA, transferSaga, type TransferInput } from './saga/transferSaga';

/** The test saga's attempts per step (two: enough to show a re-send, short enough for the timeout tests). */
const STEP_ATTEMPTS = transferSaga.stepAttempts!;

// The transfer saga (reserve → credit → confirm) on the local cloud, orchestrating the test ledger:
// a request to the saga's queue starts it; the ledger's events (outbox → relay → bus → rule → the
// saga's queue) advance it; its timers are delayed messages on its own queue. Whatever happens, the
// ledger ends consistent: no money created or lost (a completed or compensated transfer leaves the sum
// of the two balances unchanged and nothing reserved; one that failed for an operator after its pivot
// leaves the money reserved, for the operator to confirm).

const ddb = new DynamoDBClient({});
const sqs = new SQSClient({});
const OWN = sagaEventTypes(TRANSFER_SAGA);
const OPENING_BALANCE = 1000;
const AMOUNT = 300;
let out: Record<string, string>;
let ledger: Outbox;
let sagas: DynamoSagaStore<TransferInput>;
let client: SagaClient<TransferInput>;

beforeAll(() => {
  out = stackOutputs('SagaTest');
  ledger = new Outbox({ client: ddb, tableName: out.LedgerTableName!, source: LEDGER_SOURCE });
  sagas = new DynamoSagaStore(ddb, out.SagaTableName!, new Outbox({ client: ddb, tableName: out.SagaTableName!, source: TRANSFER_SAGA }));
  client = new SagaClient(transferSaga, { sqs, dynamodb: ddb, queueUrl: out.SagaQueueUrl!, tableName: out.SagaTableName! });
});

async function openAccount(balance: number): Promise<string> {
  const accountId = unique('acct');
  const { state, events } = newAccount(accountId, balance);
  await ledger.commit([{ id: accountId, key: accountKey(accountId), expectedVersion: 0, state, events }]);
  return accountId;
}

async function account(accountId: string): Promise<Account> {
  const loaded = await readAggregate<unknown>(ddb, out.LedgerTableName!, accountKey(accountId));
  return AccountSchema.parse(loaded?.state);
}

const FINISHED = new Set(['completed', 'compensated', 'failed']);

/** Opens two accounts, runs a transfer between them to its end, and returns what the saga and the ledger say. */
async function transfer(faults: TransferInput['faults'] = {}) {
  const [from, to] = [await openAccount(OPENING_BALANCE), await openAccount(0)];
  const sagaId = unique('tr');
  await client.start(sagaId, { from, to, amount: AMOUNT, faults });
  const saga = await eventually(
    async () => (await sagas.load(sagaId))?.state,
    (s): s is SagaState<TransferInput> => s !== undefined && FINISHED.has(s.status),
    { what: `transfer ${sagaId} to finish`, timeoutMs: 90_000, intervalMs: 500 },
  );
  return { sagaId, saga: saga!, source: await account(from), target: await account(to) };
}

/** The saga's own events for one instance, in commit order (its outbox is its log). */
async function sagaEvents(sagaId: string): Promise<string[]> {
  const { Items = [] } = await ddb.send(
    new QueryCommand({ TableName: out.SagaTableName!, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: outboxPartitionKey(sagaId) } }, ConsistentRead: true }),
  );
  return Items.map((item) => z.object({ type: z.string() }).parse(unmarshall(item)).type);
}

/** No money created or lost, nothing left reserved; and no input of the saga or command of the ledger was dead-lettered. */
async function expectConsistent(source: Account, target: Account): Promise<void> {
  expect(source.available + source.reserved + target.available + target.reserved).toBe(OPENING_BALANCE);
  expect(source.reserved).toBe(0);
  expect(target.reserved).toBe(0);
  for (const queue of [out.SagaDeadLetterQueueUrl!, out.LedgerCommandsDeadLetterQueueUrl!]) {
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    expect(Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible), `dead letters in ${queue}`).toBe(0);
  }
}

// Each test runs its own transfer between its own two accounts: they run side by side, so the step
// timeouts they wait out overlap instead of adding up.
describe.concurrent('transfer saga on the local cloud', () => {
  it('happy path: reserve → credit → confirm; the money moves, the saga reports completed', async () => {
    const { sagaId, saga, source, target } = await transfer();

    expect(saga.status).toBe('completed');
    expect(saga.completedSteps).toEqual(['reserve', 'credit', 'confirm']);
    expect(source.available).toBe(OPENING_BALANCE - AMOUNT);
    expect(target.available).toBe(AMOUNT);
    await expectConsistent(source, target);
    expect(await sagaEvents(sagaId)).toEqual([OWN.started, OWN.stepCompleted, OWN.stepCompleted, OWN.stepCompleted, OWN.completed]);
  });

  it.each([
    { step: 'reserve', undone: [] },
    { step: 'credit', undone: ['reserve'] },
    { step: 'confirm', undone: ['credit', 'reserve'] },
  ] as const)('the ledger refuses $step: the steps before it are undone in reverse order, the balances are as before', async ({ step, undone }) => {
    const { sagaId, saga, source, target } = await transfer({ [step]: 'refuse' });

    expect(saga).toMatchObject({ status: 'compensated', failure: { step, reason: 'refused' }, pendingCompensations: [] });
    expect(source.available).toBe(OPENING_BALANCE);
    expect(target.available).toBe(0);
    await expectConsistent(source, target);
    const events = await sagaEvents(sagaId);
    expect(events.filter((t) => t === OWN.stepCompensated)).toHaveLength(undone.length);
    expect(events.at(-1)).toBe(OWN.compensated);
  });

  it('a compensation goes unanswered once: it times out, is retried (never dropped), and the saga still ends compensated', async () => {
    const { sagaId, saga, source, target } = await transfer({ credit: 'refuse', release: 'ignore-once' });

    expect(saga).toMatchObject({ status: 'compensated', failure: { step: 'credit', reason: 'refused' } });
    expect(await sagaEvents(sagaId)).toEqual([OWN.started, OWN.stepCompleted, OWN.stepFailed, OWN.compensationFailed, OWN.compensationRetried, OWN.stepCompensated, OWN.compensated]);
    expect(source.available).toBe(OPENING_BALANCE);
    await expectConsistent(source, target);
  });

  it('the ledger never answers credit: it is sent again, then after its last attempt undone (it may have happened) with the reservation; the balances are as before', async () => {
    const startedAt = Date.now();
    const { sagaId, saga, source, target } = await transfer({ credit: 'ignore' });

    expect(saga).toMatchObject({ status: 'compensated', failure: { step: 'credit', reason: 'timed-out' } });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(STEP_ATTEMPTS * STEP_TIMEOUT_SECONDS * 1000);
    expect((await sagaEvents(sagaId)).filter((t) => t === OWN.stepRetried)).toHaveLength(STEP_ATTEMPTS - 1);
    expect(source.available).toBe(OPENING_BALANCE);
    expect(target.available).toBe(0);
    await expectConsistent(source, target);
    // The target remembers the reversal, so a credit command arriving now would be refused.
    expect(target.transfers[saga.sagaId]?.status).toBe('reversed');
  });

  it('the ledger never answers confirm (a pivot): it is sent again, then the saga fails for an operator and undoes nothing; the money is still reserved', async () => {
    const { sagaId, saga, source, target } = await transfer({ confirm: 'ignore' });

    expect(saga).toMatchObject({ status: 'failed', failure: { step: 'confirm', reason: 'timed-out' }, completedSteps: ['reserve', 'credit'], pendingCompensations: [] });
    const events = await sagaEvents(sagaId);
    expect(events.filter((t) => t === OWN.stepRetried)).toHaveLength(STEP_ATTEMPTS - 1);
    expect(events).not.toContain(OWN.stepCompensated);
    expect(events.at(-1)).toBe(OWN.failed);
    // Credited, and the reservation neither released nor confirmed: the operator confirms it.
    expect(source).toMatchObject({ available: OPENING_BALANCE - AMOUNT, reserved: AMOUNT });
    expect(target).toMatchObject({ available: AMOUNT, reserved: 0 });
    expect(target.transfers[sagaId]?.status).toBe('credited');
  });
});
