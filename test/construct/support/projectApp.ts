import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, type AppProps } from 'aws-cdk-lib';
import { PROJECT_ROOT } from '../../../lib/constructs/ToolkitFunction';

/** The context of cdk.json (its feature flags), which `cdk synth` passes to bin/app.ts. */
const CDK_JSON_CONTEXT: Record<string, unknown> =
  JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')).context ?? {};

/**
 * An App with the project's cdk.json context, so a test synthesizes what `cdk synth` does
 * (e.g. `@aws-cdk/aws-iam:minimizePolicies` merges statements).
 */
export function projectApp(props: AppProps = {}): App {
  return new App({ ...props, context: { ...CDK_JSON_CONTEXT, ...props.context } });
}

/**
 * Context that bundles no asset (`aws:cdk:bundling-stacks` lists the stacks to bundle; the CDK CLI
 * sets it): for tests that read templates, not code. NodejsFunction still checks that its entry
 * file exists, and CoffeeShopStack.test.ts bundles every handler for real.
 */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] } as const;
