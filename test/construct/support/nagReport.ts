import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Validations, type App } from 'aws-cdk-lib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AwsSolutionsChecks } from 'cdk-nag';
import { applyNagChecks } from '../../../lib/nag';
import { projectApp, SKIP_BUNDLING } from './projectApp';

/** What a plugin reported, as aws-cdk-lib writes it to `validation-report.json` in the cloud assembly. */
export interface PluginReport {
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

export interface Finding {
  readonly rule: string;
  readonly path: string;
}

export interface Acknowledgement {
  readonly id: string;
  readonly path: string;
  readonly reason: unknown;
}

const outdirs: string[] = [];

/**
 * An app with the project's context and cdk-nag's AwsSolutions checks (as bin/app.ts applies them),
 * synthesizing into a directory of its own. Synthesis does not throw on findings, so that a test
 * reads them from the report (as `cdk synth` prints them). The checks read templates, not code:
 * nothing is bundled. Call `removeNagOutdirs` after the tests.
 */
export function nagCheckedApp(): App {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nag-'));
  outdirs.push(outdir);
  const app = projectApp({ outdir, context: { ...SKIP_BUNDLING, '@aws-cdk/core:failSynthOnValidationErrors': false } });
  applyNagChecks(app);
  return app;
}

export function removeNagOutdirs(): void {
  for (const outdir of outdirs.splice(0)) fs.rmSync(outdir, { recursive: true, force: true });
}

export function synthesizeReport(app: App): PluginReport[] {
  const assembly = app.synth();
  const report = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'));
  return report.pluginReports;
}

export function findingsOf(reports: PluginReport[]): Finding[] {
  return reports.flatMap((report) =>
    report.violations.flatMap((violation) => violation.violatingConstructs.map((c) => ({ rule: violation.ruleName, path: c.constructPath }))),
  );
}

/** One line per finding or plugin failure, for a failure message a person can act on. */
export function describeReports(reports: PluginReport[]): string {
  return reports
    .flatMap((report) => [
      ...(report.metadata?.error ? [`${report.pluginName} failed: ${report.metadata.error}`] : []),
      ...report.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} (${v.severity}) at ${c.constructPath}: ${v.description}`)),
    ])
    .join('\n');
}

/** Every acknowledgement recorded with `Validations.of(construct).acknowledge()` under `app`. */
export function acknowledgementsOf(app: App): Acknowledgement[] {
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

/** Acknowledgements without a reason a person can read. */
export function acknowledgementsWithoutReason(app: App): Acknowledgement[] {
  return acknowledgementsOf(app).filter((a) => typeof a.reason !== 'string' || a.reason.trim() === '');
}

/**
 * Acknowledgements that hide no finding: the pack is run with acknowledgements ignored, and an
 * acknowledgement applies to the construct it is on and everything under it. `isAcknowledged` is
 * private to cdk-nag (3.0.2, pinned); if a new version renames it, this throws rather than pass.
 */
export function staleAcknowledgements(app: App): Acknowledgement[] {
  const pack = new AwsSolutionsChecks();
  const internals = pack as unknown as { isAcknowledged?: (node: unknown, id: string) => boolean };
  if (typeof internals.isAcknowledged !== 'function') throw new Error('cdk-nag no longer has isAcknowledged: update staleAcknowledgements');
  internals.isAcknowledged = () => false;
  const unacknowledged = pack
    .validateScope(app)
    .violations.flatMap((v) => v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '' })));
  return acknowledgementsOf(app).filter(
    (a) => !unacknowledged.some((f) => f.rule === a.id && (f.path === a.path || f.path.startsWith(`${a.path}/`))),
  );
}

/**
 * The two checks every nag-checked stack gets, inside a `describe`: no unacknowledged finding, and
 * every acknowledgement has a reason and hides a real finding. `build` adds the stack(s) to the app.
 */
export function itPassesNagChecks(build: (app: App) => void): void {
  let app: App;
  let reports: PluginReport[];
  beforeAll(() => {
    app = nagCheckedApp();
    build(app);
    reports = synthesizeReport(app);
  });
  afterAll(removeNagOutdirs);

  it('have no unacknowledged findings', () => {
    expect(reports, `cdk-nag findings:\n${describeReports(reports)}`).toEqual([]);
  });

  it('are acknowledged only with a reason, and only where they would report a finding', () => {
    expect(acknowledgementsWithoutReason(app)).toEqual([]);
    expect(staleAcknowledgements(app), 'acknowledgements that hide no finding').toEqual([]);
  });
}
