import { App } from 'aws-cdk-lib';
import { ProbeStack } from './ProbeStack';

const app = new App();
new ProbeStack(app, 'ConformanceProbe');
