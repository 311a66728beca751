// `npx tsx bench/deploy.ts`: deploys the bench app only and prints its outputs (for working on the bench).
import { cloudEnv, ensureCloud } from '../localstack/cloud';
import { deployBench } from './plan';

const { endpoint } = await ensureCloud();
Object.assign(process.env, cloudEnv(endpoint));
console.log(JSON.stringify(await deployBench(), null, 2));
