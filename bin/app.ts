import { App } from 'aws-cdk-lib';
import { applyNagChecks } from '../lib/nag';
import { CoffeeBoardSiteStack } from '../lib/stacks/CoffeeBoardSiteStack';
import { CoffeeShopStack } from '../lib/stacks/CoffeeShopStack';
import { WalletStack } from '../lib/stacks/WalletStack';

const app = new App();
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
const shop = new CoffeeShopStack(app, 'CoffeeShop', {
  env,
  // `npm start` deploys the late-comer analytics only after the first orders: `--context coffee:analytics=false`.
  withAnalytics: app.node.tryGetContext('coffee:analytics') !== 'false',
  // The board page's origin(s), comma-separated: CORS allows only these (localstack/deploy.ts passes the local board server's).
  allowedOrigins: String(app.node.tryGetContext('coffee:allowedOrigins') ?? '').split(',').map((origin) => origin.trim()).filter((origin) => origin.length > 0),
});
// The board page's S3 + CloudFront hosting. The local cloud cannot run its deployment (a Python custom
// resource), so localstack/deploy.ts leaves it out there (`--context local-cloud=true`) and `npm start`
// serves web/board itself.
if (app.node.tryGetContext('local-cloud') !== 'true') {
  new CoffeeBoardSiteStack(app, 'CoffeeBoardSite', { env, apiUrl: shop.apiUrl, liveUrl: shop.liveUrl });
}
new WalletStack(app, 'Wallet', { env });
applyNagChecks(app);
