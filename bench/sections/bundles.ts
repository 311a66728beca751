/**
 * Report section: the size of every Lambda bundle the app synthesizes (minified, per handler, plus
 * its layers) and its cold init time (a fresh `node` process `require()`-ing the bundle, median of N).
 *
 * The app is synthesized fresh, with the local-cloud context the deploy uses, into
 * `.local/cdk.out.bench-bundles` (emptied first): an older cdk.out can hold templates and assets of
 * stacks that no longer exist, and the sizes must be those of the current sources.
 *
 * Run alone: `npx tsx bench/sections/bundles.ts [--samples 5] [--reuse]`
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ACCOUNT, cloudEnv, REGION, ROOT } from '../../localstack/cloud';
import type { ReportSection, TargetRow } from './types';

export const BUNDLE_LIMIT_BYTES = 150 * 1024;
export const SYNTH_DIR = path.join(ROOT, '.local', 'cdk.out.bench-bundles');

// ---------------------------------------------------------------- templates (pure, unit-tested)

const ResourceSchema = z.object({
  Type: z.string(),
  Properties: z.record(z.string(), z.unknown()).optional(),
  Metadata: z.record(z.string(), z.unknown()).optional(),
});
const TemplateSchema = z.object({ Resources: z.record(z.string(), ResourceSchema).default({}) });
export type Template = z.infer<typeof TemplateSchema>;
type Resource = z.infer<typeof ResourceSchema>;

/** A layer a function uses: a bundled asset of this assembly, or an ARN from elsewhere. */
export type LayerRef = { readonly kind: 'asset'; readonly logicalId: string; readonly assetPath: string } | { readonly kind: 'external'; readonly ref: string };

/** A Lambda function with a code asset, as the template describes it. */
export interface LambdaFunctionInfo {
  readonly stack: string;
  readonly logicalId: string;
  /** The construct path without `/Resource`, e.g. `CoffeeShop/Orders/Outbox/Relay`. */
  readonly constructPath: string;
  /** Asset directory, relative to the cloud assembly. */
  readonly assetPath: string;
  /** e.g. `index.handler`. */
  readonly handler: string;
  readonly runtime: string;
  readonly memoryMb: number;
  readonly layers: readonly LayerRef[];
  /** Environment with intrinsic functions replaced by plausible placeholders (ARNs, URLs, names). */
  readonly environment: Readonly<Record<string, string>>;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** A stand-in for an intrinsic (`Ref`, `Fn::GetAtt`, `Fn::Join`, …) of `template`: names, ARNs and URLs of the right shape. */
export function placeholder(value: unknown, template: Template): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (!value || typeof value !== 'object') return 'placeholder';
  const obj = value as Record<string, unknown>;
  const pseudo: Record<string, string> = { 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT, 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com', 'AWS::StackName': 'stack' };
  if ('Ref' in obj) {
    const ref = str(obj.Ref) ?? 'placeholder';
    if (pseudo[ref]) return pseudo[ref];
    const type = template.Resources[ref]?.Type;
    if (type === 'AWS::SQS::Queue') return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${ref}`;
    if (type === 'AWS::KMS::Key') return '00000000-0000-4000-8000-000000000000';
    return ref.toLowerCase();
  }
  if ('Fn::GetAtt' in obj) {
    const [id = 'placeholder', attribute = 'Arn'] = (Array.isArray(obj['Fn::GetAtt']) ? obj['Fn::GetAtt'] : String(obj['Fn::GetAtt']).split('.')).map(String);
    const type = template.Resources[id]?.Type ?? '';
    const name = id.toLowerCase();
    if (attribute === 'QueueUrl') return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
    if (attribute === 'QueueName') return name;
    if (attribute === 'StreamArn') return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}/stream/2026-01-01T00:00:00.000`;
    if (attribute.endsWith('Arn')) {
      const arns: Record<string, string> = {
        'AWS::SQS::Queue': `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`,
        'AWS::DynamoDB::Table': `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`,
        'AWS::Events::EventBus': `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${name}`,
        'AWS::KMS::Key': `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000000`,
        'AWS::Lambda::Function': `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
        'AWS::SNS::Topic': `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`,
      };
      return arns[type] ?? `arn:aws:service:${REGION}:${ACCOUNT}:${name}`;
    }
    return name;
  }
  if ('Fn::Join' in obj && Array.isArray(obj['Fn::Join'])) {
    const [separator, parts] = obj['Fn::Join'] as [unknown, unknown];
    return (Array.isArray(parts) ? parts : []).map((part) => placeholder(part, template)).join(str(separator) ?? '');
  }
  if ('Fn::Sub' in obj) return String(Array.isArray(obj['Fn::Sub']) ? obj['Fn::Sub'][0] : obj['Fn::Sub']).replace(/\$\{([^}]+)\}/g, (_, name: string) => placeholder({ Ref: name }, template));
  return 'placeholder';
}

function layerRef(value: unknown, template: Template): LayerRef {
  const ref = value && typeof value === 'object' && 'Ref' in value ? str((value as { Ref: unknown }).Ref) : undefined;
  const layer: Resource | undefined = ref ? template.Resources[ref] : undefined;
  const assetPath = str(layer?.Metadata?.['aws:asset:path']);
  if (ref && layer?.Type === 'AWS::Lambda::LayerVersion' && assetPath) return { kind: 'asset', logicalId: ref, assetPath };
  return { kind: 'external', ref: typeof value === 'string' ? value : JSON.stringify(value) };
}

/** Every `AWS::Lambda::Function` of a template that has a code asset (`aws:asset:path` metadata). */
export function lambdaFunctionsOf(stack: string, raw: unknown): LambdaFunctionInfo[] {
  const template = TemplateSchema.parse(raw);
  const found: LambdaFunctionInfo[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const assetPath = str(resource.Metadata?.['aws:asset:path']);
    if (!assetPath) continue;
    const props = resource.Properties ?? {};
    const variables = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
    found.push({
      stack,
      logicalId,
      constructPath: (str(resource.Metadata?.['aws:cdk:path']) ?? `${stack}/${logicalId}`).replace(/\/Resource$/, ''),
      assetPath,
      handler: str(props.Handler) ?? 'index.handler',
      runtime: str(props.Runtime) ?? 'unknown',
      memoryMb: typeof props.MemorySize === 'number' ? props.MemorySize : 128,
      layers: (Array.isArray(props.Layers) ? props.Layers : []).map((layer) => layerRef(layer, template)),
      environment: Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, placeholder(value, template)])),
    });
  }
  return found;
}

const ManifestSchema = z.object({
  artifacts: z.record(z.string(), z.object({ type: z.string(), properties: z.object({ templateFile: z.string().optional() }).passthrough().optional() })).default({}),
});

/** The functions of every stack (and nested stack) in a cloud assembly directory. */
export function lambdaFunctionsInAssembly(dir: string): LambdaFunctionInfo[] {
  const manifest = ManifestSchema.parse(JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')));
  const found: LambdaFunctionInfo[] = [];
  const visit = (stack: string, file: string) => {
    const raw: unknown = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    found.push(...lambdaFunctionsOf(stack, raw));
    for (const [id, resource] of Object.entries(TemplateSchema.parse(raw).Resources)) {
      const nested = str(resource.Metadata?.['aws:asset:path']);
      if (resource.Type === 'AWS::CloudFormation::Stack' && nested?.endsWith('.json')) visit(`${stack}/${id}`, nested);
    }
  };
  for (const [name, artifact] of Object.entries(manifest.artifacts)) {
    if (artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile) visit(name, artifact.properties.templateFile);
  }
  return found.sort((a, b) => a.constructPath.localeCompare(b.constructPath));
}

// ---------------------------------------------------------------- synth, sizes, cold init

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr, ms: performance.now() - started }));
  });
}

/** `cdk synth` of bin/app.ts with the local cloud's context (as localstack/deploy.ts deploys it). */
export async function synthApp(outdir: string = SYNTH_DIR): Promise<void> {
  rmSync(outdir, { recursive: true, force: true });
  const result = await run(path.join(ROOT, 'node_modules', '.bin', 'cdk'), ['synth', '--quiet', '--output', outdir, '--context', 'local-cloud=true'], {
    cwd: ROOT,
    env: { ...process.env, ...cloudEnv() },
  });
  if (result.status !== 0) throw new Error(`cdk synth failed (exit ${result.status}):\n${result.stderr.split('\n').slice(-30).join('\n')}`);
}

/** Bytes of the files under `dir`, source maps excluded. */
export function directoryBytes(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) bytes += directoryBytes(full);
    else if (entry.isFile() && !entry.name.endsWith('.map')) bytes += statSync(full).size;
  }
  return bytes;
}

/** The handler's module file in its asset (`index.handler` → index.js, .mjs or .cjs). */
export function handlerFile(assetDir: string, handler: string): string | undefined {
  const module = handler.slice(0, handler.lastIndexOf('.'));
  return ['.js', '.mjs', '.cjs'].map((ext) => path.join(assetDir, module + ext)).find((file) => existsSync(file));
}

const CHILD = `'use strict';
const t0 = performance.now();
let error;
try { require(process.argv[2]); } catch (e) { error = String(e && e.message || e).split('\\n')[0].slice(0, 200); }
const t1 = performance.now();
process.stdout.write('\\n@@cold-init@@' + JSON.stringify({ bootMs: t0, initMs: t1 - t0, error }) + '\\n');
process.exit(0);
`;
const ChildResultSchema = z.object({ bootMs: z.number(), initMs: z.number(), error: z.string().optional() });

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * One cold init: a fresh `node` with the function's environment (placeholders for resource names; an
 * unreachable loopback endpoint so that nothing can leave the machine), NODE_PATH = its layers'
 * `nodejs/node_modules` then the project's node_modules (standing in for the SDK the Lambda runtime
 * provides), timed inside the child from its first line to the end of `require()`.
 */
async function coldInit(bundle: string, fn: LambdaFunctionInfo, layerDirs: readonly string[], childScript: string): Promise<z.infer<typeof ChildResultSchema>> {
  const nodePath = [...layerDirs.flatMap((dir) => [path.join(dir, 'nodejs', 'node22', 'node_modules'), path.join(dir, 'nodejs', 'node_modules')]), path.join(ROOT, 'node_modules')];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...fn.environment,
    NODE_PATH: nodePath.join(path.delimiter),
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const result = await run(process.execPath, [childScript, bundle], { cwd: path.dirname(bundle), env });
  const line = result.stdout.split('\n').find((l) => l.startsWith('@@cold-init@@'));
  if (!line) return { bootMs: Number.NaN, initMs: Number.NaN, error: `child exited ${result.status}: ${result.stderr.split('\n')[0]?.slice(0, 200) ?? ''}` };
  return ChildResultSchema.parse(JSON.parse(line.slice('@@cold-init@@'.length)));
}

export interface BundleMeasurement {
  readonly fn: LambdaFunctionInfo;
  readonly bundleBytes: number | undefined;
  readonly layers: readonly { readonly name: string; readonly bytes: number | undefined }[];
  readonly initMs: number;
  readonly bootMs: number;
  readonly error?: string;
}

export interface BundleOptions {
  readonly samples: number;
  /** Use the assembly already in `outdir` instead of synthesizing (for re-runs while editing). @default false */
  readonly reuse?: boolean;
  readonly outdir?: string;
}

export async function measureBundles(options: BundleOptions): Promise<{ measurements: BundleMeasurement[]; bareNodeMs: number; synthSeconds: number; outdir: string }> {
  if (!Number.isInteger(options.samples) || options.samples < 1) throw new RangeError('samples must be a positive integer');
  const outdir = options.outdir ?? SYNTH_DIR;
  const synthStarted = performance.now();
  if (!options.reuse || !existsSync(path.join(outdir, 'manifest.json'))) await synthApp(outdir);
  const synthSeconds = (performance.now() - synthStarted) / 1000;
  const childScript = path.join(tmpdir(), `bench-cold-init-${process.pid}.cjs`);
  mkdirSync(path.dirname(childScript), { recursive: true });
  writeFileSync(childScript, CHILD);

  const bare: number[] = [];
  for (let i = 0; i < options.samples; i++) bare.push((await run(process.execPath, ['-e', '0'], { cwd: ROOT, env: { PATH: process.env.PATH } })).ms);

  const measurements: BundleMeasurement[] = [];
  for (const fn of lambdaFunctionsInAssembly(outdir)) {
    const assetDir = path.join(outdir, fn.assetPath);
    const bundle = handlerFile(assetDir, fn.handler);
    const layerDirs = fn.layers.flatMap((layer) => (layer.kind === 'asset' ? [path.join(outdir, layer.assetPath)] : []));
    const layers = fn.layers.map((layer) =>
      layer.kind === 'asset' ? { name: layer.logicalId, bytes: directoryBytes(path.join(outdir, layer.assetPath)) } : { name: `external ${layer.ref}`, bytes: undefined },
    );
    if (!bundle) {
      measurements.push({ fn, bundleBytes: undefined, layers, initMs: Number.NaN, bootMs: Number.NaN, error: `no module for handler ${fn.handler}` });
      continue;
    }
    const samples = [];
    for (let i = 0; i < options.samples; i++) samples.push(await coldInit(bundle, fn, layerDirs, childScript));
    const error = samples.find((s) => s.error)?.error;
    measurements.push({
      fn,
      bundleBytes: statSync(bundle).size,
      layers,
      initMs: median(samples.map((s) => s.initMs)),
      bootMs: median(samples.map((s) => s.bootMs)),
      ...(error ? { error } : {}),
    });
  }
  return { measurements, bareNodeMs: median(bare), synthSeconds, outdir };
}

const kb = (bytes: number | undefined): string => (bytes === undefined ? 'n/a' : `${(bytes / 1024).toFixed(1)}`);

/** One target row per handler: ≤ 150 KB minified (the handler's module, source maps excluded). */
export function bundleTargets(measurements: readonly BundleMeasurement[]): TargetRow[] {
  return measurements.map((m) => ({
    target: `Bundle size ${m.fn.constructPath}`,
    value: m.bundleBytes === undefined ? 'n/a' : `${kb(m.bundleBytes)} KB`,
    goal: `≤ ${BUNDLE_LIMIT_BYTES / 1024} KB minified`,
    met: m.bundleBytes !== undefined && m.bundleBytes <= BUNDLE_LIMIT_BYTES,
  }));
}

export function bundleMarkdown(result: Awaited<ReturnType<typeof measureBundles>>, options: BundleOptions): string {
  const { measurements, bareNodeMs } = result;
  const met = bundleTargets(measurements).filter((t) => t.met).length;
  const rows = measurements.map((m) => {
    const layers = m.layers.length === 0 ? '–' : m.layers.map((l) => `${l.name}: ${kb(l.bytes)} KB`).join('<br>');
    const init = m.error ? `failed: ${m.error.replace(/\|/g, '\\|')}` : m.initMs.toFixed(1);
    return `| ${m.fn.constructPath} | ${kb(m.bundleBytes)} | ${m.bundleBytes !== undefined && m.bundleBytes <= BUNDLE_LIMIT_BYTES ? 'met' : '**not met**'} | ${layers} | ${init} |`;
  });
  const total = measurements.reduce((sum, m) => sum + (m.bundleBytes ?? 0), 0);
  const layerIds = new Set(measurements.flatMap((m) => m.layers.map((l) => l.name)));
  return [
    `${measurements.length} Lambda functions in \`bin/app.ts\` synthesized with \`--context local-cloud=true\` (as \`localstack/deploy.ts\` deploys it) ${options.reuse ? 'reused from' : 'freshly into'} \`${path.relative(ROOT, result.outdir)}\`${options.reuse ? '' : ` (synth took ${result.synthSeconds.toFixed(0)} s)`}. ` +
      `Size = the handler's module (\`index.js\`, minified; source maps excluded), in KB of 1,024 bytes; layers are listed with their unpacked size (source maps excluded). ${met} of ${measurements.length} bundles meet ≤ ${BUNDLE_LIMIT_BYTES / 1024} KB; all bundles together: ${kb(total)} KB${layerIds.size ? `; ${layerIds.size} distinct layer(s)` : '; no layers'}.`,
    '',
    `Cold init = median over ${options.samples} fresh \`node\` ${process.version} processes of the time from the child's first line to the end of \`require(bundle)\` (measured inside the child with \`performance.now()\`, so Node's own start is not included), with the function's environment (resource names replaced by placeholders), \`NODE_OPTIONS\` as deployed, and \`NODE_PATH\` = layers, then the project's node_modules (standing in for the AWS SDK the Lambda runtime provides). ` +
      `For reference, a bare \`node -e 0\` takes ${bareNodeMs.toFixed(0)} ms end to end here (median of ${options.samples}); Node's bootstrap before user code took ${median(measurements.map((m) => m.bootMs).filter((v) => !Number.isNaN(v))).toFixed(0)} ms (median). The Lambda runtime's own start and the download of the code are not in these figures.`,
    '',
    '| function | bundle KB | ≤ 150 KB | layers | cold init ms |',
    '|---|---:|---|---|---:|',
    ...rows,
  ].join('\n');
}

/** The report section: synthesizes the app (unless `reuse`), then sizes and times every bundle. */
export async function bundleSection(options: BundleOptions): Promise<ReportSection> {
  const result = await measureBundles(options);
  return { title: 'Bundle size and cold init', markdown: bundleMarkdown(result, options), targets: bundleTargets(result.measurements) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { samples: { type: 'string' }, reuse: { type: 'boolean' } } });
  const section = await bundleSection({ samples: Number(values.samples ?? 5), reuse: values.reuse ?? false });
  console.log(`## ${section.title}\n\n${section.markdown}\n`);
  console.table(section.targets);
}
