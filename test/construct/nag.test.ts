import type { App } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoffeeOrdersStack } from '../../lib/stacks/CoffeeOrdersStack';
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

/** The app as bin/app.ts builds it. */
function coffeeOrdersApp(): { app: App; stack: CoffeeOrdersStack } {
  const app = nagCheckedApp();
  const stack = new CoffeeOrdersStack(app, 'CoffeeOrders');
  return { app, stack };
}

afterAll(removeNagOutdirs);

describe('cdk-nag AwsSolutions checks on the CoffeeOrdersStack', () => {
  let app: App;
  let reports: PluginReport[];

  beforeAll(() => {
    ({ app } = coffeeOrdersApp());
    reports = synthesizeReport(app);
  });

  it('have no unacknowledged findings', () => {
    expect(reports, `cdk-nag findings:\n${describeReports(reports)}`).toEqual([]);
  });

  it('report a finding for a non-compliant resource added to the stack', () => {
    // Arrange: a queue without enforceSSL (and without a dead-letter queue).
    const { app: other, stack } = coffeeOrdersApp();
    const queue = new sqs.Queue(stack, 'NonCompliantQueue');

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
