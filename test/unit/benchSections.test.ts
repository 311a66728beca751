import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { handlerFile, lambdaFunctionsInAssembly, lambdaFunctionsOf, median, placeholder, bundleTargets, type BundleMeasurement } from '../../bench/sections/bundles';
import { costSection, costTarget, loadPrices, measuredCostLines, pipesCostLines, targetsPerEvent, total } from '../../bench/sections/cost';
import { kmsMarkdown, kmsTarget, tickingClock, type KmsRunResult } from '../../bench/sections/kms';
import type { MeasuredRun } from '../../bench/sections/types';

/** 1,000 events; each relay ran 100 invocations on 1,024 MB. Ours batched 10 per call; naive 1 per call. */
const run: MeasuredRun = {
  events: 1_000,
  ours: {
    'EventBridge.PutEvents': { calls: 100, entries: 1_000 },
    'SQS.SendMessageBatch': { calls: 100, entries: 1_000 },
  },
  naive: {
    'EventBridge.PutEvents': { calls: 1_000, entries: 1_000 },
    'SQS.SendMessage': { calls: 1_000, entries: 1_000 },
  },
  lambda: {
    ours: { invocations: 100, billedMs: 10_000, memoryMb: 1024 }, // 10 GB-s
    naive: { invocations: 100, billedMs: 100_000, memoryMb: 1024 }, // 100 GB-s
  },
};
const prices = loadPrices();

describe('bench/prices.json', () => {
  it('has every price with a source page and a date', () => {
    // arrange + act: loadPrices validates the file with zod
    // assert
    for (const price of Object.values(prices.prices)) {
      expect(price.source).toMatch(/^https:\/\/aws\.amazon\.com\//);
      expect(price.date).toMatch(/as published on the price page, read on/);
    }
    expect(prices.prices.eventBridgeCustomEvent).toMatchObject({ usd: 1, per: 1e6 });
    expect(prices.prices.kmsRequest).toMatchObject({ usd: 0.03, per: 1e4 });
  });
});

describe('cost per million events', () => {
  it('naive relay (1 PutEvents + 1 SendMessage per event) costs EventBridge $1 + SQS FIFO $0.50 + its Lambda time', () => {
    // act
    const lines = measuredCostLines(run.naive, run.lambda.naive, run.events, { prices });

    // assert: per event 1 entry ($1/M), 1 FIFO request ($0.50/M), 0.1 invocation ($0.20/M), 0.1 GB-s ($0.0000133334 each)
    const byPrice = Object.fromEntries(lines.map((l) => [l.price, l.usdPerMillion]));
    expect(byPrice.eventBridgeCustomEvent).toBeCloseTo(1.0, 10);
    expect(byPrice.sqsFifoRequest).toBeCloseTo(0.5, 10);
    expect(byPrice.lambdaRequest).toBeCloseTo(0.02, 10);
    expect(byPrice.lambdaGbSecondArm).toBeCloseTo(1.33334, 10);
    expect(total(lines)).toBeCloseTo(2.85334, 10);
  });

  it('ours: batching cuts SQS requests and Lambda time, not the per-entry EventBridge charge', () => {
    // act
    const lines = measuredCostLines(run.ours, run.lambda.ours, run.events, { prices });

    // assert
    const byPrice = Object.fromEntries(lines.map((l) => [l.price, l]));
    expect(byPrice.eventBridgeCustomEvent?.usdPerMillion).toBeCloseTo(1.0, 10);
    expect(byPrice.sqsFifoRequest?.unitsPerEvent).toBeCloseTo(0.1, 10);
    expect(byPrice.sqsFifoRequest?.usdPerMillion).toBeCloseTo(0.05, 10);
    expect(total(lines)).toBeCloseTo(1 + 0.05 + 0.02 + 0.133334, 10);
  });

  it('standard queues and 64 KB chunks change the arithmetic as the price pages say', () => {
    // act
    const standard = measuredCostLines(run.naive, run.lambda.naive, run.events, { prices, sqsQueueType: 'standard' });
    const big = measuredCostLines(run.ours, run.lambda.ours, run.events, { prices, eventBytes: 100 * 1024 });

    // assert: $0.40 standard; a 100 KB event is 2 chunks on the bus, a batch of ten is 16 chunks per request
    expect(standard.find((l) => l.price === 'sqsStandardRequest')?.usdPerMillion).toBeCloseTo(0.4, 10);
    expect(big.find((l) => l.price === 'eventBridgeCustomEvent')?.unitsPerEvent).toBe(2);
    expect(big.find((l) => l.price === 'sqsFifoRequest')?.unitsPerEvent).toBeCloseTo(1.6, 10);
  });

  it('prices nothing it does not know, and refuses a run without events', () => {
    // act
    const lines = measuredCostLines({ 'CloudWatchLogs.PutLogEvents': { calls: 5, entries: 5 } }, { invocations: 0, billedMs: 0, memoryMb: 128 }, 10, { prices });

    // assert
    expect(lines[0]).toMatchObject({ usdPerMillion: 0, note: 'not priced here' });
    expect(() => measuredCostLines({}, run.lambda.ours, 0, { prices })).toThrow(RangeError);
  });

  it('Pipes: billed per event per pipe after filtering; its SQS requests depend on the source batch', () => {
    // act
    const best = pipesCostLines({ buses: 1, orderedQueues: 1 }, { prices });
    const unbatched = pipesCostLines({ buses: 1, orderedQueues: 1 }, { prices, pipesBatchSize: 1 });

    // assert: 2 pipes × $0.40 + bus $1 + FIFO 0.1 × $0.50 + stream reads 0.2 × $0.20
    expect(total(best)).toBeCloseTo(0.8 + 1 + 0.05 + 0.04, 10);
    expect(total(unbatched)).toBeCloseTo(0.8 + 1 + 0.5 + 0.4, 10);
    expect(() => pipesCostLines({ buses: 1, orderedQueues: 1 }, { prices, pipesBatchSize: 11 })).toThrow(RangeError);
  });

  it('counts targets from entries per event (retried entries do not add a target)', () => {
    expect(targetsPerEvent(run.ours, run.events)).toEqual({ buses: 1, orderedQueues: 1 });
    expect(targetsPerEvent({ 'EventBridge.PutEvents': { calls: 3, entries: 1_030 }, 'SQS.SendMessageBatch': { calls: 2, entries: 2_000 } }, 1_000)).toEqual({ buses: 1, orderedQueues: 2 });
  });

  it('met only when ours ≤ ½ × Pipes', () => {
    expect(costTarget(0.9, 2).met).toBe(true);
    expect(costTarget(1.0, 2).met).toBe(true);
    expect(costTarget(1.01, 2).met).toBe(false);
  });

  it('the section shows the arithmetic and says the target is not met when EventBridge dominates', () => {
    // act
    const section = costSection(run, { prices });

    // assert
    expect(section.targets).toHaveLength(1);
    expect(section.targets[0]).toMatchObject({ met: false, goal: '≤ 0.5× Pipes' });
    expect(section.markdown).toContain('| **total** | | | **$1.2033** | |');
    expect(section.markdown).toContain('**$2.8533**');
    expect(section.markdown).toContain('**not met**');
    expect(section.markdown).toMatch(/same in all three designs/);
  });
});

describe('KMS section (pure parts)', () => {
  const result = (mode: KmsRunResult['mode'], steadyKms: Record<string, number>): KmsRunResult => ({
    mode,
    events: 2_000,
    steadyEvents: 1_900,
    kms: { whole: { GenerateDataKey: 100, Decrypt: 100, ...steadyKms }, steady: steadyKms },
    dynamodb: { whole: { GetItem: 200 }, steady: {} },
    seconds: 1,
  });

  it('the target is steady-state KMS calls per event ≤ 0.01', () => {
    expect(kmsTarget(result('cache', {}))).toMatchObject({ value: '0.0000', met: true });
    expect(kmsTarget(result('cache', { Decrypt: 19 }))).toMatchObject({ value: '0.0100', met: true });
    expect(kmsTarget(result('cache', { Decrypt: 20 })).met).toBe(false);
  });

  it('reports calls per event by operation, whole run and steady state, for both modes', () => {
    // act
    const markdown = kmsMarkdown([result('cache', {}), result('no cache', { Decrypt: 3_800 })], { events: 2_000, subjects: 100, concurrency: 25 });

    // assert
    expect(markdown).toContain('| KMS.Decrypt | 0.0500 | 0.0000 | 1.9000 | 2.0000 |'); // whole: the fixture's 3,800 Decrypts / 2,000 events
    expect(markdown).toContain('| **KMS, all operations** | **0.1000** | **0.0000** | **1.9500** | **2.0000** |');
    expect(markdown).toContain('| DynamoDB.GetItem | 0.1000 | 0.0000 | 0.1000 | 0.0000 |');
  });

  it('the no-cache clock moves forward on every reading', () => {
    const clock = tickingClock(0);
    expect([clock().getTime(), clock().getTime(), clock().getTime()]).toEqual([1, 2, 3]);
  });
});

describe('bundle section: template parsing', () => {
  const template = {
    Resources: {
      Queue1: { Type: 'AWS::SQS::Queue', Properties: {} },
      Table1: { Type: 'AWS::DynamoDB::Table', Properties: {} },
      Layer1: { Type: 'AWS::Lambda::LayerVersion', Metadata: { 'aws:asset:path': 'asset.layer' }, Properties: {} },
      RelayFn: {
        Type: 'AWS::Lambda::Function',
        Metadata: { 'aws:cdk:path': 'Shop/Orders/Outbox/Relay/Resource', 'aws:asset:path': 'asset.relay' },
        Properties: {
          Handler: 'index.handler',
          Runtime: 'nodejs22.x',
          MemorySize: 256,
          Layers: [{ Ref: 'Layer1' }, 'arn:aws:lambda:us-east-1:094274105915:layer:AWSLambdaPowertoolsTypeScriptV2:1'],
          Environment: {
            Variables: {
              SOURCE: 'coffee.orders',
              QUEUE_URL: { Ref: 'Queue1' },
              TABLE_ARN: { 'Fn::GetAtt': ['Table1', 'Arn'] },
              URLS: { 'Fn::Join': ['', ['["', { Ref: 'Queue1' }, '"]']] },
              REGION_SUFFIX: { 'Fn::Join': ['.', [{ Ref: 'AWS::Region' }, { Ref: 'AWS::URLSuffix' }]] },
            },
          },
        },
      },
      InlineFn: { Type: 'AWS::Lambda::Function', Properties: { Code: { ZipFile: 'exports.handler=()=>{}' } } },
    },
  };

  it('finds functions with a code asset, their construct path, layers and a placeholder environment', () => {
    // act
    const functions = lambdaFunctionsOf('Shop', template);

    // assert
    expect(functions).toHaveLength(1);
    const [relay] = functions;
    expect(relay).toMatchObject({ stack: 'Shop', logicalId: 'RelayFn', constructPath: 'Shop/Orders/Outbox/Relay', assetPath: 'asset.relay', handler: 'index.handler', memoryMb: 256 });
    expect(relay?.layers).toEqual([
      { kind: 'asset', logicalId: 'Layer1', assetPath: 'asset.layer' },
      { kind: 'external', ref: 'arn:aws:lambda:us-east-1:094274105915:layer:AWSLambdaPowertoolsTypeScriptV2:1' },
    ]);
    expect(relay?.environment).toEqual({
      SOURCE: 'coffee.orders',
      QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/Queue1',
      TABLE_ARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/table1',
      URLS: '["https://sqs.us-east-1.amazonaws.com/000000000000/Queue1"]',
      REGION_SUFFIX: 'us-east-1.amazonaws.com',
    });
  });

  it('placeholder keeps strings and never throws on an unknown intrinsic', () => {
    expect(placeholder('plain', { Resources: {} })).toBe('plain');
    expect(placeholder({ 'Fn::ImportValue': 'x' }, { Resources: {} })).toBe('placeholder');
  });

  describe('a cloud assembly on disk', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-assembly-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads the stacks the manifest names (not stale templates) and their nested stacks', () => {
      // arrange
      const nested = { Resources: { InnerFn: { Type: 'AWS::Lambda::Function', Metadata: { 'aws:cdk:path': 'Shop/Inner/Fn/Resource', 'aws:asset:path': 'asset.inner' }, Properties: { Handler: 'index.handler' } } } };
      const parent = { Resources: { ...template.Resources, Nested: { Type: 'AWS::CloudFormation::Stack', Metadata: { 'aws:asset:path': 'ShopNested.nested.template.json' } } } };
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ artifacts: { 'Shop.assets': { type: 'cdk:asset-manifest', properties: { file: 'Shop.assets.json' } }, Shop: { type: 'aws:cloudformation:stack', properties: { templateFile: 'Shop.template.json' } } } }));
      writeFileSync(path.join(dir, 'Shop.template.json'), JSON.stringify(parent));
      writeFileSync(path.join(dir, 'ShopNested.nested.template.json'), JSON.stringify(nested));
      writeFileSync(path.join(dir, 'Stale.template.json'), JSON.stringify(nested)); // not in the manifest
      mkdirSync(path.join(dir, 'asset.relay'));
      writeFileSync(path.join(dir, 'asset.relay', 'index.js'), 'module.exports={}');

      // act
      const functions = lambdaFunctionsInAssembly(dir);

      // assert
      expect(functions.map((f) => `${f.stack} ${f.constructPath}`)).toEqual(['Shop/Nested Shop/Inner/Fn', 'Shop Shop/Orders/Outbox/Relay']);
      expect(handlerFile(path.join(dir, 'asset.relay'), 'index.handler')).toBe(path.join(dir, 'asset.relay', 'index.js'));
      expect(handlerFile(path.join(dir, 'asset.relay'), 'main.handler')).toBeUndefined();
    });
  });

  it('one target row per handler: ≤ 150 KB met, above or unknown not met', () => {
    // arrange
    const [fn] = lambdaFunctionsOf('Shop', template);
    const measured = (bundleBytes: number | undefined): BundleMeasurement => ({ fn: fn!, bundleBytes, layers: [], initMs: 1, bootMs: 1 });

    // act
    const rows = bundleTargets([measured(150 * 1024), measured(150 * 1024 + 1), measured(undefined)]);

    // assert
    expect(rows.map((r) => r.met)).toEqual([true, false, false]);
    expect(rows[0]).toMatchObject({ target: 'Bundle size Shop/Orders/Outbox/Relay', value: '150.0 KB' });
  });

  it('median of odd and even samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(Number.isNaN(median([]))).toBe(true);
  });
});
