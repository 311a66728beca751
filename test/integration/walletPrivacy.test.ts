import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { auditSubject, discoverStores, PersonalDataSealer } from '../../functions/toolkit/privacy';
import { fraudOperator, walletAs } from '../support/actors';
import { eventually, unique } from '../support/eventually';
import { stackOutputs } from '../support/outputs';
import { ApiClient } from '../../scripts/demo/coffeeClient';

// Wallet holders are erasable through the same workflow as coffee customers: the wallet seals a
// holder's and payees' names (and the holder's user id) per account, so erasing an account's subject
// destroys its key; `privacy.subject.erased` goes down the wallet's log to the anti-fraud service.

const ddb = new DynamoDBClient({});
const lambda = new LambdaClient({});
const invoke = async (functionName: string, payload: unknown) =>
  JSON.parse(Buffer.from((await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: JSON.stringify(payload) }))).Payload!).toString());

describe('erasing a wallet holder (crypto-shredding), on the local cloud', () => {
  it('shreds every sealed copy of the account’s names, locks the holder out, and the anti-fraud service takes the erasure instead of dead-lettering it', async () => {
    // arrange: an account with a payee, as its holder
    const out = stackOutputs('Wallet');
    const holder = await walletAs('erased-holder');
    const accountId = unique('erase');
    const [name, payee] = ['Hedy Lamarr', 'Frequency Hopping Ltd'];
    expect(await holder.call('POST', '/accounts', { accountId, holderName: name, currency: 'EUR' })).toMatchObject({ status: 201 });
    expect(await holder.call('POST', `/accounts/${accountId}/transactions`, { transactionId: unique('tx'), amount: { amount: 5_000, currency: 'EUR' } })).toMatchObject({ status: 201 });
    expect(await holder.call('POST', `/accounts/${accountId}/transactions`, { transactionId: unique('tx'), amount: { amount: -1_000, currency: 'EUR' }, payee: { name: payee, country: 'AT' } })).toMatchObject({ status: 201 });
    const env = (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: out.EraseHolderFunctionName }))).Environment?.Variables ?? {};
    const sealer = PersonalDataSealer.fromEnvironment({ env, dynamodb: ddb });
    const stores = await discoverStores(ddb, new SQSClient({}), (n) => n.startsWith('Wallet'));
    const before = await auditSubject({ subject: accountId, stores, canOpen: (s) => sealer.canOpen(s), knownValues: [name, payee] });
    expect(before.readable).toBeGreaterThan(0);
    expect(before.plaintext).toBe(0);

    // act: erase the account's subject, twice (as `ops privacy erase <accountId>` does)
    const first = await invoke(out.EraseHolderFunctionName!, { subject: accountId, erasedBy: 'integration-test' });
    const second = await invoke(out.EraseHolderFunctionName!, { subject: accountId, erasedBy: 'integration-test' });

    // assert: one erasure and one event; nothing of the account's names can be read anywhere
    expect(first).toMatchObject({ status: 'erased', alreadyErased: false, published: true });
    expect(second).toMatchObject({ status: 'erased', alreadyErased: true, published: false });
    const after = await auditSubject({ subject: accountId, stores, canOpen: (s) => sealer.canOpen(s), knownValues: [name, payee] });
    expect({ readable: after.readable, plaintext: after.plaintext, clean: after.clean }).toEqual({ readable: 0, plaintext: 0, clean: true });
    // the anti-fraud service applied privacy.subject.erased (it records it; it holds no names)
    await eventually(
      () => ddb.send(new GetItemCommand({ TableName: out.FraudTableName, Key: marshall({ pk: `ERASED#${accountId}`, sk: 'STATE' }), ConsistentRead: true })),
      (r) => r.Item !== undefined,
      { what: 'the anti-fraud service to record the erasure', timeoutMs: 60_000 },
    );
    // the holder's id is shredded with the names: nobody can prove they hold the account any more
    // (within the vault's cached-key window, a function that opened it before may still; see the README)
    await eventually(() => holder.call('GET', `/accounts/${accountId}`), (a) => a.status === 404, { what: 'the erased account to be nobody’s', timeoutMs: 120_000 });
    expect(await new ApiClient(holder.apiUrl, await fraudOperator()).call('GET', `/accounts/${accountId}`)).toMatchObject({ status: 200 });
  });
});
