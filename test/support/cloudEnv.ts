// Points every AWS SDK client in the test workers at the local cloud, once the global setup
// (cloudSetup.ts) has deployed the stacks in the background.
import { cloudEnv } from '../../localstack/cloud';
import { waitForCloudSetup } from './outputs';

await waitForCloudSetup();
Object.assign(process.env, cloudEnv());
