import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/constructs/projectRoot';
import { WalletStack } from '../../lib/stacks/WalletStack';
import { projectApp } from './support/projectApp';

/** The bare module names a CommonJS bundle loads with `require("…")`, outside Node's own. */
function requiredModules(bundle: string): string[] {
  const names = new Set<string>();
  for (const [, request] of bundle.matchAll(/require\("([^"./][^"]*)"\)/g)) {
    const name = request!.startsWith('@') ? request!.split('/').slice(0, 2).join('/') : request!.split('/')[0]!;
    if (!builtinModules.includes(name) && !name.startsWith('node:')) names.add(request!);
  }
  return [...names].sort();
}

describe('the functions’ runtime modules: AWS SDK from the runtime, Powertools from the stack’s layer', () => {
  // Bundled for real (local esbuild): the wallet stack has every kind of handler (relay, consumers,
  // HTTP API, command queue, saga, personal data).
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'layer-'));
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));
  let template: Template;
  let assets: Array<{ logicalId: string; type: string; dir: string }>;

  beforeAll(() => {
    const stack = new WalletStack(projectApp({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } }), 'Wallet');
    template = Template.fromStack(stack);
    const resources = template.toJSON().Resources as Record<string, { Type: string; Metadata?: Record<string, string> }>;
    assets = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function' || r.Type === 'AWS::Lambda::LayerVersion')
      .map(([logicalId, r]) => ({ logicalId, type: r.Type, dir: path.join(outdir, r.Metadata!['aws:asset:path']!) }));
  }, 300_000);

  it('gives every function the one layer of its stack', () => {
    const layers = assets.filter((a) => a.type === 'AWS::Lambda::LayerVersion');
    expect(layers).toHaveLength(1);
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions).length).toBeGreaterThan(5);
    for (const [id, fn] of Object.entries(functions)) {
      expect(fn.Properties.Layers, id).toEqual([{ Ref: layers[0]!.logicalId }]);
    }
  });

  it('resolves and loads every module a bundle requires: the AWS SDK (the runtime has it) or a module in the layer', () => {
    const layer = assets.find((a) => a.type === 'AWS::Lambda::LayerVersion')!.dir;
    // Resolve as Node does inside the layer's folder, with nothing of the project around it.
    const fromLayer = createRequire(path.join(layer, 'nodejs', 'node_modules', 'index.js'));
    const bundles = assets.filter((a) => a.type === 'AWS::Lambda::Function');
    const needed = new Set<string>();
    for (const { dir } of bundles) for (const request of requiredModules(fs.readFileSync(path.join(dir, 'index.js'), 'utf8'))) needed.add(request);

    const notSdk = [...needed].filter((request) => !request.startsWith('@aws-sdk/'));
    expect(notSdk).toContain('@aws-lambda-powertools/logger');
    for (const request of notSdk) {
      const resolved = fromLayer.resolve(request);
      expect(resolved.startsWith(layer), `${request} resolves to ${resolved}`).toBe(true);
    }
    // Load them in a fresh Node that, like the Lambda runtime, offers only the AWS SDK besides the layer.
    const runtime = path.join(outdir, 'runtime', 'node_modules');
    fs.mkdirSync(runtime, { recursive: true });
    fs.symlinkSync(path.join(PROJECT_ROOT, 'node_modules', '@aws-sdk'), path.join(runtime, '@aws-sdk'), 'dir');
    const loaded = spawnSync(process.execPath, ['-e', `for (const m of ${JSON.stringify(notSdk)}) require(m)`], {
      cwd: outdir,
      env: { PATH: process.env.PATH, NODE_PATH: [path.join(layer, 'nodejs', 'node_modules'), runtime].join(path.delimiter) },
      encoding: 'utf8',
    });
    expect(loaded.stderr).toBe('');
    expect(loaded.status).toBe(0);
  });

  it('keeps the AWS SDK, type declarations, source maps and the ES module build out of the layer', () => {
    const layer = assets.find((a) => a.type === 'AWS::Lambda::LayerVersion')!.dir;
    const files = fs.readdirSync(layer, { recursive: true }).map(String);
    expect(files.some((f) => f.includes('@aws-sdk'))).toBe(false);
    expect(files.filter((f) => /\.d\.ts$|\.map$|[\\/]esm[\\/]/.test(f))).toEqual([]);
    expect(files.some((f) => f.endsWith(path.join('logger', 'lib', 'cjs', 'index.js')))).toBe(true);
  });
});
