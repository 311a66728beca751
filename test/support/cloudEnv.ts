// Points every AWS SDK client in the test workers at the local cloud.
import { cloudEnv } from '../../localstack/cloud';

Object.assign(process.env, cloudEnv());
