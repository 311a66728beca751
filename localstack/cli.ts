/** `tsx localstack/cli.ts start|stop|reset|status|deploy`: manage the local cloud by hand. */
import { cloudEnv, ensureCloud, isHealthy, LOG_FILE, resetCloud, stopCloud } from './cloud';
import { deployStacks } from './deploy';

const command = process.argv[2];
switch (command) {
  case 'start': {
    const { endpoint, started } = await ensureCloud();
    console.log(started ? `Started MiniStack on ${endpoint} (log: ${LOG_FILE})` : `Reusing the healthy local cloud at ${endpoint}`);
    break;
  }
  case 'stop':
    console.log((await stopCloud()) ? 'Stopped the MiniStack this project started.' : 'No MiniStack started by this project is running.');
    break;
  case 'reset':
    await resetCloud();
    console.log('Local cloud state wiped.');
    break;
  case 'status':
    console.log((await isHealthy()) ? `healthy at ${cloudEnv().AWS_ENDPOINT_URL}` : 'not running');
    break;
  case 'deploy':
    await ensureCloud();
    await deployStacks();
    break;
  default:
    console.error('usage: tsx localstack/cli.ts start|stop|reset|status|deploy');
    process.exit(2);
}
