import type { App } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoffeeBoardSiteStack } from '../../lib/stacks/CoffeeBoardSiteStack';
import { CoffeeShopStack } from '../../lib/stacks/CoffeeShopStack';
import { WalletStack } from '../../lib/stacks/WalletStack';
import {
  acknowledgementsOf,
  acknowledgementsWithoutReason,
  describeReports,
  findingsOf,
  nagCheckedApp,
  removeNagOutdirs,
  staleAcknowledgements,
  synthesizeReport,
  type PluginReport,
} from './support/nagReport';

/** The app as bin/app.ts builds it for AWS: the shop, the board page's hosting pointing at its APIs, the wallet. */
function coffeeShopApp(): { app: App; shop: CoffeeShopStack; site: CoffeeBoardSiteStack; wallet: WalletStack } {
  const app = nagCheckedApp();
  const shop = new CoffeeShopStack(app, 'CoffeeShop');
  const site = new CoffeeBoardSiteStack(app, 'CoffeeBoardSite', { apiUrl: shop.apiUrl, liveUrl: shop.liveUrl });
  const wallet = new WalletStack(app, 'Wallet');
  return { app, shop, site, wallet };
}

afterAll(removeNagOutdirs);

describe('cdk-nag AwsSolutions checks on the app (CoffeeShop, CoffeeBoardSite and Wallet)', () => {
  let app: App;
  let reports: PluginReport[];

  beforeAll(() => {
    ({ app } = coffeeShopApp());
    reports = synthesizeReport(app);
  });

  it('have no unacknowledged findings', () => {
    expect(reports, `cdk-nag findings:\n${describeReports(reports)}`).toEqual([]);
  });

  it.each(['shop', 'site'] as const)('report a finding for a non-compliant resource added to the %s stack', (which) => {
    // Arrange: a queue without enforceSSL (and without a dead-letter queue).
    const { app: other, ...stacks } = coffeeShopApp();
    const queue = new sqs.Queue(stacks[which], 'NonCompliantQueue');

    // Act
    const otherReports = synthesizeReport(other);

    // Assert: found, and nothing else is.
    const queuePath = queue.node.defaultChild!.node.path;
    const findings = findingsOf(otherReports);
    expect(otherReports.map((r) => r.pluginName)).toEqual([new AwsSolutionsChecks().name]);
    expect(findings).toContainEqual({ rule: 'AwsSolutions-SQS4', path: queuePath });
    expect(findings.filter((f) => f.path !== queuePath), describeReports(otherReports)).toEqual([]);
  });

  it('are acknowledged only with a reason', () => {
    expect(acknowledgementsOf(app).length).toBeGreaterThan(0);
    expect(acknowledgementsWithoutReason(app)).toEqual([]);
  });

  it('are acknowledged only where they would report a finding', () => {
    expect(staleAcknowledgements(app), 'acknowledgements that hide no finding').toEqual([]);
  });
});
