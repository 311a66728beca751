import { ApiClient } from './coffeeClient';
import type { UserDirectoryClient } from './identities';
import { c } from './terminal';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const eur = (cents: number) => `€${(cents / 100).toFixed(2)}`;

/**
 * The wallet's part of the demo: event-sourced accounts, a fraud case (six transactions within a
 * minute: the anti-fraud service flags the account, the next debit is refused until an operator
 * clears it), a transfer, and a failing transfer that compensates. True when every step answered as
 * it should and the sum of balances held.
 */
async function sumOf(api: ApiClient, accountIds: readonly string[]): Promise<number> {
  const balances = await Promise.all(accountIds.map(async (id) => (await api.call<{ balance: number }>('GET', `/accounts/${id}`)).body.balance));
  return balances.reduce((sum, balance) => sum + balance, 0);
}

export async function runWalletScenario(walletApiUrl: string, users: UserDirectoryClient): Promise<boolean> {
  // Each signed in to the wallet's user pool: Ada and Bob hold accounts, the fraud desk clears flags and reads any account.
  const [adaUser, bobUser, fraudDesk] = await Promise.all([users.user('ada', ['account-holder']), users.user('bob', ['account-holder']), users.user('fraud-desk', ['fraud-operator'])]);
  const api = new ApiClient(walletApiUrl, adaUser);
  const asBob = new ApiClient(walletApiUrl, bobUser);
  const desk = new ApiClient(walletApiUrl, fraudDesk);
  const run = Date.now().toString(36);
  const ada = `acct-ada-${run}`;
  const problems: string[] = [];
  const expectStatus = async (what: string, call: Promise<{ status: number; body: { error?: string; message?: string } }>, status: number) => {
    const answer = await call;
    const ok = answer.status === status;
    if (!ok) problems.push(`${what}: expected ${status}, got ${answer.status} ${JSON.stringify(answer.body)}`);
    console.log(`  ${ok ? c.green : c.red}${String(answer.status).padEnd(4)}${c.reset} ${what}${answer.body.error ? ` ${c.dim}${answer.body.error}: ${answer.body.message}${c.reset}` : ''}`);
    return answer;
  };
  const transaction = (accountId: string, amount: number, payee?: { name: string; country: string }) =>
    api.call('POST', `/accounts/${accountId}/transactions`, { transactionId: `tx-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`, amount: { amount, currency: 'EUR' }, ...(payee ? { payee } : {}) });

  console.log(`\n${c.bold}The wallet:${c.reset} an event-sourced account (the holder's name sealed), and a fraud case:`);
  await expectStatus(`open account ${ada} for Ada`, api.call('POST', '/accounts', { accountId: ada, holderName: 'Ada Lovelace', currency: 'EUR' }), 201);
  await expectStatus(`credit ${eur(50_000)}`, transaction(ada, 50_000), 201);
  await expectStatus(`debit ${eur(90_000)} (more than the balance)`, transaction(ada, -90_000), 409);
  for (let i = 1; i <= 5; i++) await expectStatus(`debit ${eur(1_500)} at the corner shop (${i} of 5: six transactions within a minute)`, transaction(ada, -1_500, { name: 'Corner Shop', country: 'NL' }), 201);

  const deadline = Date.now() + 60_000;
  let flagged = false;
  while (!flagged && Date.now() < deadline) {
    flagged = (await api.call<{ flagged: boolean }>('GET', `/accounts/${ada}`)).body.flagged === true;
    if (!flagged) await sleep(300);
  }
  console.log(`  ${flagged ? c.green : c.red}${flagged ? 'the anti-fraud service flagged the account (fraud.detected → wallet.account.flagged)' : 'the account was not flagged within 60 s'}${c.reset}`);
  if (!flagged) problems.push('not flagged');
  await expectStatus(`debit ${eur(1_500)} on the flagged account`, transaction(ada, -1_500), 409);
  await expectStatus('Ada clears the flag herself (only a fraud operator may)', api.call('POST', `/accounts/${ada}/clear`, {}), 403);
  await expectStatus(`Bob reads Ada's account (it does not exist for him)`, asBob.call('GET', `/accounts/${ada}`), 404);
  await expectStatus('someone without a token reads it', api.call('GET', `/accounts/${ada}`, undefined, null), 401);
  await expectStatus('the fraud desk clears the account', desk.call('POST', `/accounts/${ada}/clear`, {}), 200);
  await expectStatus(`debit ${eur(1_500)} again`, transaction(ada, -1_500), 201);
  const final = await api.call<{ balance: number; version: number }>('GET', `/accounts/${ada}`);
  console.log(`  balance ${eur(final.body.balance)} after ${final.body.version} events (a fold of the account's log, from its latest snapshot: one every 20 events)`);
  if (final.body.balance !== 50_000 - 6 * 1_500) problems.push(`balance ${final.body.balance}`);

  // Transfers: an orchestrated saga (reserve → credit → confirm) that compensates in reverse order.
  const bob = `acct-bob-${run}`;
  const bobUsd = `acct-bob-usd-${run}`;
  console.log(`\n${c.bold}Transfers${c.reset} (a saga: reserve on the source → credit the target → confirm; a refused step is compensated in reverse):`);
  await expectStatus(`open account ${bob} (EUR) for Bob`, asBob.call('POST', '/accounts', { accountId: bob, holderName: 'Bob', currency: 'EUR' }), 201);
  await expectStatus(`open account ${bobUsd} (USD) for Bob`, asBob.call('POST', '/accounts', { accountId: bobUsd, holderName: 'Bob', currency: 'USD' }), 201);
  await expectStatus(`Bob transfers from Ada's account (not his)`, asBob.call('POST', '/transfers', { transferId: `xfer-steal-${run}`, from: ada, to: bob, amount: { amount: 100, currency: 'EUR' } }), 404);
  const before = await sumOf(desk, [ada, bob]);
  const follow = async (label: string, holder: ApiClient, from: string, to: string, amount: number, expected: string) => {
    const transferId = `xfer-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    await expectStatus(`transfer ${eur(amount)} ${from} → ${to} (${label})`, holder.call('POST', '/transfers', { transferId, from, to, amount: { amount, currency: 'EUR' } }), 202);
    const until = Date.now() + 90_000;
    let state: { status: string; completedSteps?: string[]; failure?: { step: string; reason: string } } = { status: 'unknown' };
    while (Date.now() < until && !['completed', 'compensated', 'failed'].includes(state.status)) {
      await sleep(300);
      const answer = await holder.call<typeof state>('GET', `/transfers/${transferId}`);
      if (answer.status === 200) state = answer.body;
    }
    const ok = state.status === expected;
    if (!ok) problems.push(`transfer ${transferId}: ${state.status}, expected ${expected}`);
    console.log(`  ${ok ? c.green : c.red}${state.status}${c.reset} ${c.dim}steps done: ${(state.completedSteps ?? []).join(' → ') || 'none'}${state.failure ? `; ${state.failure.step} ${state.failure.reason}` : ''}${c.reset}`);
  };
  await follow('happy path, by Ada', api, ada, bob, 10_000, 'completed');
  await follow('by Bob: the target keeps dollars, the credit is refused, the reservation released', asBob, bob, bobUsd, 2_000, 'compensated');
  const after = await sumOf(desk, [ada, bob]);
  console.log(`  sum of balances ${eur(before)} before, ${eur(after)} after: ${before === after ? `${c.green}no money created or lost${c.reset}` : `${c.red}changed${c.reset}`}`);
  if (before !== after) problems.push('sum of balances changed');
  for (const problem of problems) console.log(`  ${c.red}${problem}${c.reset}`);
  return problems.length === 0;
}
