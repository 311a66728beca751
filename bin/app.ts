import { App } from 'aws-cdk-lib';
import { applyNagChecks } from '../lib/nag';
import { CoffeeOrdersStack } from '../lib/stacks/CoffeeOrdersStack';

const app = new App();
new CoffeeOrdersStack(app, 'CoffeeOrders', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
applyNagChecks(app);
