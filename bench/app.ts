// The benchmark's CDK app (deployed by bench/run.ts to the local cloud; not part of bin/app.ts).
import { App } from 'aws-cdk-lib';
import { applyNagChecks } from '../lib/nag';
import { BENCH_STACK } from './benchNames';
import { BenchStack } from './stack/BenchStack';

const app = new App();
new BenchStack(app, BENCH_STACK);
applyNagChecks(app);
