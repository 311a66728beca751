/**
 * `npm start`: brings up the local cloud, deploys the coffee shop to it with the plain CDK CLI, opens
 * the live order board (prints its URL) and runs the shop: a steady trickle of orders through the
 * HTTP API, staff who brew and serve them, a few cancellations; a live summary in the terminal.
 * After the first orders it deploys the late-comer (wait-time analytics), which rebuilds from the
 * services' logs. Ctrl-C stops everything it started.
 *
 * `npm run demo` (`--once`) runs a fixed scenario instead and exits 0 when every order is served
 * (or cancelled), no message is dead-lettered, the late-comer equals the board and an erased
 * customer can no longer be read anywhere.
 */
import { Command } from 'commander';
import { cloudEnv, ensureCloud, LOG_FILE, stopCloud } from '../localstack/cloud';
import { deployStacks, OUTPUTS_FILE } from '../localstack/deploy';
import { LOCAL_BOARD_PORT, localApiUrl, localWebSocketUrl } from '../localstack/endpoints';
import { startBoardServer } from './boardServer';
import { runScenario, runTrickle } from './demo/scenario';
import { c } from './demo/terminal';
import { userDirectoryOf, UserDirectoryClient } from './demo/identities';
import { existsSync, readFileSync } from 'node:fs';

const options = new Command()
  .name('npm start --')
  .option('--once', 'run the fixed scenario and exit (0 when every order is served)')
  .option('--orders <n>', 'orders in the fixed scenario', (v) => Number.parseInt(v, 10), 10)
  .parse()
  .opts<{ once?: boolean; orders: number }>();

const began = Date.now();
const { endpoint, started } = await ensureCloud();
Object.assign(process.env, cloudEnv(endpoint));
console.log(`${c.bold}Local cloud${c.reset} ${started ? 'started' : 'reused'} at ${endpoint} ${c.dim}(log: ${LOG_FILE})${c.reset}`);

// The wait-time analytics join late: on a first deploy they come only after the first orders.
const previously: Record<string, Record<string, string>> = existsSync(OUTPUTS_FILE) ? JSON.parse(readFileSync(OUTPUTS_FILE, 'utf8')) : {};
const lateComer = !previously.CoffeeShop?.WaitTimesTableName;
console.log(`${c.bold}Deploying${c.reset} the CoffeeShop and Wallet stacks with cdk deploy${lateComer ? ' (without the wait-time analytics: they will join late)' : ''} …`);
const deployed = await deployStacks({ quiet: true, ...(lateComer ? { context: { 'coffee:analytics': 'false' } } : {}) });
let outputs = deployed.CoffeeShop;
const walletOutputs = deployed.Wallet;
if (!outputs || !walletOutputs) throw new Error('CoffeeShop or Wallet stack outputs missing after deploy');
console.log(`${c.green}Deployed${c.reset} in ${((Date.now() - began) / 1000).toFixed(1)} s ${c.dim}(log: .local/deploy.log)${c.reset}`);

const apiUrl = localApiUrl(outputs.ApiId!);
// On the origin the shop's API allows (CORS): LOCAL_BOARD_ORIGIN, configured by the local deploy.
const board = await startBoardServer({ port: LOCAL_BOARD_PORT, config: { apiUrl, liveUrl: localWebSocketUrl(outputs.LiveApiId!, outputs.LiveStageName!) } });
console.log(`\n${c.bold}Live order board:${c.reset} ${c.cyan}${board.url}${c.reset}   ${c.dim}(API: ${apiUrl})${c.reset}\n`);

const deployLateComer = async (): Promise<Record<string, string>> => {
  outputs = (await deployStacks({ quiet: true })).CoffeeShop!;
  return outputs;
};

let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await board.close();
  if (started) {
    await stopCloud();
    console.log(`${c.dim}Stopped the local cloud this run started.${c.reset}`);
  } else {
    console.log(`${c.dim}The local cloud at ${endpoint} was already running; left as it was.${c.reset}`);
  }
  process.exit(code);
};
const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) return;
  console.log(`\n${c.dim}Stopping …${c.reset}`);
  controller.abort();
});

try {
  // The actors sign in to the stacks' user pools as client apps do (scripts/demo/identities.ts).
  const users = { coffeeUsers: new UserDirectoryClient(userDirectoryOf(outputs)), walletUsers: new UserDirectoryClient(userDirectoryOf(walletOutputs, 'Wallet')) };
  const context = { outputs, apiUrl, walletApiUrl: localApiUrl(walletOutputs.WalletApiId!), ...users, lateComer, deployLateComer, signal: controller.signal };
  const ok = options.once ? await runScenario({ ...context, orders: options.orders }) : await runTrickle(context);
  await shutdown(ok ? 0 : 1);
} catch (error) {
  console.error(`${c.red}${error instanceof Error ? (error.stack ?? error.message) : String(error)}${c.reset}`);
  await shutdown(1);
}
