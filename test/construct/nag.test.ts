import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Validations, type App } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyNagChecks } from '../../lib/nag';
import { CoffeeOrdersStack } from '../../lib/stacks/CoffeeOrdersStack';
import { projectApp, SKIP_BUNDLING } from './support/projectApp';

/** What a plugin reported, as aws-cdk-lib writes it to `validation-report.json` in the cloud assembly. */
interface PluginReport {
  readonly pluginName: string;
  readonly conclusion: 'success' | 'failure';
  readonly metadata?: Record<string, string>;
  readonly violations: {
    readonly ruleName: string;
    readonly description: string;
    readonly severity: string;
    readonly violatingConstructs: { readonly constructPath: string }[];
  }[];
}

interface Finding {
  readonly rule: string;
  readonly path: string;
}

const outdirs: string[] = [];

/**
 * The app as bin/app.ts builds it, synthesized into a directory of its own. Synthesis does not
 * throw on findings, so that the test reads them from the report (as `cdk synth` prints them).
 * The checks read templates, not code: nothing is bundled.
 */
function coffeeOrdersApp(): { app: App; stack: CoffeeOrdersStack } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nag-'));
  outdirs.push(outdir);
  const app = projectApp({ outdir, context: { ...SKIP_BUNDLING, '@aws-cdk/core:failSynthOnValidationErrors': false } });
  const stack = new CoffeeOrdersStack(app, 'CoffeeOrders');
  applyNagChecks(app);
  return { app, stack };
}

function synthesizeReport(app: App): PluginReport[] {
  const assembly = app.synth();
  const report = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'));
  return report.pluginReports;
}

function findingsOf(reports: PluginReport[]): Finding[] {
  return reports.flatMap((report) =>
    report.violations.flatMap((violation) => violation.violatingConstructs.map((c) => ({ rule: violation.ruleName, path: c.constructPath }))),
  );
}

/** One line per finding or plugin failure, for a failure message a person can act on. */
function describeReports(reports: PluginReport[]): string {
  return reports
    .flatMap((report) => [
      ...(report.metadata?.error ? [`${report.pluginName} failed: ${report.metadata.error}`] : []),
      ...report.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} (${v.severity}) at ${c.constructPath}: ${v.description}`)),
    ])
    .join('\n');
}

/** Every acknowledgement recorded with `Validations.of(construct).acknowledge()` under `app`. */
function acknowledgementsOf(app: App): { id: string; path: string; reason: unknown }[] {
  return app.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, unknown>).map(([id, reason]) => ({
          // aws-cdk-lib records ids without a known namespace as annotations.
          id: id.replace(/^annotation::/i, ''),
          path: construct.node.path,
          reason,
        })),
      ),
  );
}

afterAll(() => {
  for (const outdir of outdirs) fs.rmSync(outdir, { recursive: true, force: true });
});

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
    const acknowledgements = acknowledgementsOf(app);

    expect(acknowledgements.length).toBeGreaterThan(0);
    const withoutReason = acknowledgements.filter((a) => typeof a.reason !== 'string' || a.reason.trim() === '');
    expect(withoutReason).toEqual([]);
  });

  it('are acknowledged only where they would report a finding', () => {
    // Run the pack with acknowledgements ignored. `isAcknowledged` is private to cdk-nag (3.0.2,
    // pinned); if a new version renames it, every acknowledgement shows up as stale below.
    const pack = new AwsSolutionsChecks();
    const internals = pack as unknown as { isAcknowledged: (node: unknown, id: string) => boolean };
    expect(typeof internals.isAcknowledged).toBe('function');
    internals.isAcknowledged = () => false;
    const unacknowledged = pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '' })));

    // An acknowledgement applies to the construct it is on and everything under it.
    const stale = acknowledgementsOf(app).filter(
      (a) => !unacknowledged.some((f) => f.rule === a.id && (f.path === a.path || f.path.startsWith(`${a.path}/`))),
    );
    expect(stale, 'acknowledgements that hide no finding').toEqual([]);
  });
});
