import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CfnParameter, Duration, RemovalPolicy, Stack, type App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticWebsite, type StaticWebsiteProps } from '../../lib/constructs/StaticWebsite';
import { wildcardAllows } from './support/iamPermissions';
import { itPassesNagChecks } from './support/nagReport';
import { projectApp, SKIP_BUNDLING } from './support/projectApp';
import { captureError } from './support/captureError';

const API_URL = 'https://abc123.execute-api.us-east-1.amazonaws.com/';
const LIVE_URL = 'wss://def456.execute-api.us-east-1.amazonaws.com/live';

const tmpdirs: string[] = [];
afterAll(() => {
  for (const dir of tmpdirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A folder with the given files (name → content). */
function siteFolder(files: Record<string, string> = { 'index.html': '<!doctype html><title>Board</title>', 'board.js': 'export {};' }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'site-'));
  tmpdirs.push(dir);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

interface Built {
  readonly app: App;
  readonly stack: Stack;
  readonly site: StaticWebsite;
  readonly template: Template;
  readonly idOf: (construct: IConstruct) => string;
}

/** A stack of its own with one site; the cloud assembly is written to a folder of its own, to read the staged files. */
function build(props: Partial<StaticWebsiteProps> = {}, withStack?: (stack: Stack) => Partial<StaticWebsiteProps>): Built {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'site-cdk-'));
  tmpdirs.push(outdir);
  const app = projectApp({ outdir, context: SKIP_BUNDLING });
  const stack = new Stack(app, 'Test');
  const site = new StaticWebsite(stack, 'Board', { sourceDirectory: siteFolder(), ...props, ...withStack?.(stack) });
  const template = Template.fromStack(stack);
  return { app, stack, site, template, idOf: (construct) => stack.getLogicalId(construct.node.defaultChild as CfnElement) };
}

type Json = Record<string, any>;

function resourceOf(b: Built, construct: IConstruct): Json {
  return b.template.toJSON().Resources[b.idOf(construct)];
}

/**
 * Evaluates what CloudFormation computes from `Fn::Join`, `Fn::Select`, `Fn::Split` and `Ref`, with
 * the given parameter values: the value a resource really gets at deploy time.
 */
function evaluate(value: unknown, parameters: Record<string, string>): unknown {
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map((v) => evaluate(v, parameters));
  const intrinsic = value as Json;
  if ('Ref' in intrinsic) {
    const parameter = parameters[intrinsic.Ref];
    if (parameter === undefined) throw new Error(`evaluate: no value for Ref ${intrinsic.Ref}`);
    return parameter;
  }
  if ('Fn::Join' in intrinsic) {
    const [separator, parts] = intrinsic['Fn::Join'];
    return (evaluate(parts, parameters) as string[]).join(separator);
  }
  if ('Fn::Split' in intrinsic) {
    const [separator, source] = intrinsic['Fn::Split'];
    return (evaluate(source, parameters) as string).split(separator);
  }
  if ('Fn::Select' in intrinsic) {
    const [index, list] = intrinsic['Fn::Select'];
    return (evaluate(list, parameters) as string[])[Number(index)];
  }
  throw new Error(`evaluate: cannot evaluate ${JSON.stringify(value)}`);
}

/** The connect-src directive of the site's Content-Security-Policy, as CloudFront will send it. */
function connectSrc(b: Built, parameters: Record<string, string> = {}): string[] {
  const policy = resourceOf(b, b.site.responseHeadersPolicy).Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy;
  const csp = evaluate(policy.ContentSecurityPolicy, parameters) as string;
  const directive = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('connect-src '));
  return directive?.split(/\s+/).slice(1) ?? [];
}

function deploymentProperties(b: Built): Json {
  const resource = b.template.findResources('Custom::CDKBucketDeployment')[b.idOf(b.site.deployment.node.findChild('CustomResource'))];
  if (!resource) throw new Error('the site has no deployment custom resource');
  return resource.Properties;
}

/**
 * The `config.json` the deployment writes, as its provider does it: the staged file with each
 * marker replaced by the value CloudFormation passes for it (here `evaluate`d with `parameters`).
 */
function deployedConfig(b: Built, parameters: Record<string, string> = {}): unknown {
  const assembly = b.app.synth();
  const properties = deploymentProperties(b);
  const keys: string[] = properties.SourceObjectKeys;
  const markers: Json[] = properties.SourceMarkers ?? [];
  for (const [index, key] of keys.entries()) {
    const file = path.join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`, 'config.json');
    if (!fs.existsSync(file)) continue;
    let text = fs.readFileSync(file, 'utf8');
    for (const [marker, value] of Object.entries(markers[index] ?? {})) text = text.split(marker).join(String(evaluate(value, parameters)));
    return JSON.parse(text);
  }
  throw new Error('no source of the deployment holds config.json');
}

/** Files the deployment copies from the site folder (the staged asset that is not config.json). */
function deployedFiles(b: Built): string[] {
  const assembly = b.app.synth();
  const properties = deploymentProperties(b);
  return (properties.SourceObjectKeys as string[])
    .map((key) => path.join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`))
    .flatMap((dir) => fs.readdirSync(dir))
    .sort();
}

describe('StaticWebsite with its defaults', () => {
  let b: Built;

  beforeAll(() => {
    b = build({ config: { apiUrl: API_URL, liveUrl: LIVE_URL }, connectTo: [API_URL, LIVE_URL] });
  });

  it('keeps the site in a private, versioned bucket: all public access blocked, ACLs disabled', () => {
    expect(resourceOf(b, b.site.bucket).Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('encrypts the site bucket with its own customer-managed key, rotation on', () => {
    expect(resourceOf(b, b.site.bucket).Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: b.stack.resolve(b.site.key.keyArn) } },
      ],
    });
    expect(resourceOf(b, b.site.key).Properties.EnableKeyRotation).toBe(true);
  });

  it.each([
    ['site bucket', () => b.site.bucket],
    ['log bucket', () => b.site.logBucket],
  ])('denies every S3 action on the %s and its objects over plain HTTP', (_name, bucket) => {
    const arn = b.stack.resolve(bucket().bucketArn);
    b.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: b.idOf(bucket()) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: [arn, { 'Fn::Join': ['', [arn, '/*']] }],
          },
        ]),
      },
    });
  });

  it('lets CloudFront read objects only for this distribution (origin access control)', () => {
    const oac = b.template.findResources('AWS::CloudFront::OriginAccessControl');
    expect(Object.values(oac).map((r) => r.Properties.OriginAccessControlConfig)).toEqual([
      expect.objectContaining({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' }),
    ]);
    const [origin] = resourceOf(b, b.site.distribution).Properties.DistributionConfig.Origins;
    expect(origin).toMatchObject({
      DomainName: b.stack.resolve(b.site.bucket.bucketRegionalDomainName),
      OriginAccessControlId: { 'Fn::GetAtt': [Object.keys(oac)[0], 'Id'] },
    });
    b.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: b.idOf(b.site.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Action: 's3:GetObject',
            Resource: b.stack.resolve(b.site.bucket.arnForObjects('*')),
            Condition: {
              StringEquals: { 'AWS:SourceArn': b.stack.resolve(`arn:${b.stack.partition}:cloudfront::${b.stack.account}:distribution/${b.site.distribution.distributionId}`) },
            },
          },
        ]),
      },
    });
  });

  it("lets CloudFront decrypt with the bucket's key, for this account's distributions only (the bucket policy names this one)", () => {
    const statements: Json[] = resourceOf(b, b.site.key).Properties.KeyPolicy.Statement;
    const forCloudFront = statements.filter((s) => s.Principal?.Service === 'cloudfront.amazonaws.com');
    expect(forCloudFront).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: { ArnLike: { 'AWS:SourceArn': b.stack.resolve(`arn:${b.stack.partition}:cloudfront::${b.stack.account}:distribution/*`) } },
      },
    ]);
  });

  it('serves index.html at the root over HTTPS only (HTTP redirects), HTTP/2 and 3, price class 100, GET and HEAD only', () => {
    expect(resourceOf(b, b.site.distribution).Properties.DistributionConfig).toMatchObject({
      DefaultRootObject: 'index.html',
      HttpVersion: 'http2and3',
      PriceClass: 'PriceClass_100',
      DefaultCacheBehavior: {
        ViewerProtocolPolicy: 'redirect-to-https',
        AllowedMethods: ['GET', 'HEAD'],
        ResponseHeadersPolicyId: { Ref: b.idOf(b.site.responseHeadersPolicy) },
      },
    });
  });

  it('sends security headers: HSTS, nosniff, DENY framing, a referrer policy, and a CSP', () => {
    const config = resourceOf(b, b.site.responseHeadersPolicy).Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    expect(config).toMatchObject({
      StrictTransportSecurity: { AccessControlMaxAgeSec: 63072000, IncludeSubdomains: true, Override: true },
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: 'DENY', Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'strict-origin-when-cross-origin', Override: true },
    });
    const csp: string = config.ContentSecurityPolicy.ContentSecurityPolicy;
    expect(csp).toMatch(/(^|; )default-src 'none'(;|$)/);
    expect(csp).toMatch(/(^|; )script-src 'self'(;|$)/);
    expect(csp).toMatch(/(^|; )frame-ancestors 'none'(;|$)/);
  });

  it('lets the page connect to its own origin and to the origins of the API and live URLs only', () => {
    expect(connectSrc(b)).toEqual(["'self'", 'https://abc123.execute-api.us-east-1.amazonaws.com', 'wss://def456.execute-api.us-east-1.amazonaws.com']);
  });

  it('logs S3 server access and CloudFront requests to the log bucket, which S3 log delivery may write to for this bucket only', () => {
    expect(resourceOf(b, b.site.bucket).Properties.LoggingConfiguration).toEqual({ DestinationBucketName: { Ref: b.idOf(b.site.logBucket) }, LogFilePrefix: 's3/' });
    expect(resourceOf(b, b.site.distribution).Properties.DistributionConfig.Logging).toEqual({
      Bucket: b.stack.resolve(b.site.logBucket.bucketRegionalDomainName),
      Prefix: 'cloudfront/',
    });
    b.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: b.idOf(b.site.logBucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: b.stack.resolve(b.site.logBucket.arnForObjects('s3/*')),
            Condition: { ArnLike: { 'aws:SourceArn': b.stack.resolve(b.site.bucket.bucketArn) }, StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ]),
      },
    });
    expect(resourceOf(b, b.site.logBucket).Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 90, Status: 'Enabled' }] },
    });
  });

  it('deploys the files of the site folder and a config.json with the values given', () => {
    expect(deployedFiles(b)).toEqual(['board.js', 'config.json', 'index.html']);
    expect(deployedConfig(b)).toEqual({ apiUrl: API_URL, liveUrl: LIVE_URL });
  });

  it('prunes old files, tells browsers to revalidate, and invalidates the whole distribution on every deployment', () => {
    const [properties] = Object.values(b.template.findResources('Custom::CDKBucketDeployment')).map((r) => r.Properties);
    expect(properties).toMatchObject({
      DestinationBucketName: { Ref: b.idOf(b.site.bucket) },
      Prune: true,
      SystemMetadata: { 'cache-control': 'no-cache' },
      DistributionId: { Ref: b.idOf(b.site.distribution) },
      DistributionPaths: ['/*'],
    });
  });

  it('keeps the buckets and the key when removed from the stack', () => {
    for (const construct of [b.site.bucket, b.site.logBucket, b.site.key]) {
      expect(resourceOf(b, construct)).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    }
    b.template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  it('exposes the https:// address of the distribution', () => {
    expect(b.stack.resolve(b.site.url)).toEqual({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [b.idOf(b.site.distribution), 'DomainName'] }]] });
  });

  it('allows no action `*` or `service:*` anywhere', () => {
    expect(wildcardAllows(b.template)).toEqual([]);
  });
});

describe('StaticWebsite with URLs known only at deploy time', () => {
  let b: Built;
  const parameters = { ApiUrl: API_URL, LiveUrl: LIVE_URL };

  beforeAll(() => {
    b = build({}, (stack) => {
      const apiUrl = new CfnParameter(stack, 'ApiUrl').valueAsString;
      const liveUrl = new CfnParameter(stack, 'LiveUrl').valueAsString;
      return { config: { apiUrl, liveUrl }, connectTo: [apiUrl, liveUrl] };
    });
  });

  it('writes the deploy-time values into config.json', () => {
    expect(deployedConfig(b, parameters)).toEqual({ apiUrl: API_URL, liveUrl: LIVE_URL });
  });

  it('derives the CSP connect-src origins from them at deploy time', () => {
    expect(connectSrc(b, parameters)).toEqual(["'self'", 'https://abc123.execute-api.us-east-1.amazonaws.com', 'wss://def456.execute-api.us-east-1.amazonaws.com']);
  });
});

describe('StaticWebsite options', () => {
  it('with RemovalPolicy.DESTROY deletes the buckets and the key, emptying the buckets first', () => {
    const b = build({ removalPolicy: RemovalPolicy.DESTROY });

    for (const construct of [b.site.bucket, b.site.logBucket, b.site.key]) expect(resourceOf(b, construct).DeletionPolicy).toBe('Delete');
    const emptied = Object.values(b.template.findResources('Custom::S3AutoDeleteObjects')).map((r) => r.Properties.BucketName);
    expect(emptied).toEqual(expect.arrayContaining([{ Ref: b.idOf(b.site.bucket) }, { Ref: b.idOf(b.site.logBucket) }]));
    b.template.hasResourceProperties('Custom::CDKBucketDeployment', { RetainOnDelete: false });
  });

  it('deploys an empty config.json and connects to its own origin only when given nothing', () => {
    const b = build();

    expect(deployedConfig(b)).toEqual({});
    expect(connectSrc(b)).toEqual(["'self'"]);
  });

  it('leaves out the files excluded', () => {
    const b = build({ exclude: ['*.d.ts'] }, () => ({ sourceDirectory: siteFolder({ 'index.html': '', 'board.js': '', 'board.d.ts': '' }) }));

    expect(deployedFiles(b)).toEqual(['board.js', 'config.json', 'index.html']);
  });

  it('attaches the web ACL and the geo restriction given', () => {
    const b = build({ webAclId: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/board/abc', geoRestriction: { restrictionType: 'whitelist', locations: ['DE', 'FR'] } });

    expect(resourceOf(b, b.site.distribution).Properties.DistributionConfig).toMatchObject({
      WebACLId: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/board/abc',
      Restrictions: { GeoRestriction: { RestrictionType: 'whitelist', Locations: ['DE', 'FR'] } },
    });
  });

  it('keeps access logs for the period given', () => {
    const b = build({ logRetention: Duration.days(7) });

    expect(resourceOf(b, b.site.logBucket).Properties.LifecycleConfiguration).toEqual({ Rules: [{ ExpirationInDays: 7, Status: 'Enabled' }] });
  });
});

describe('StaticWebsite validation', () => {
  it('throws one error that lists every problem', () => {
    const stack = new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');
    const sourceDirectory = siteFolder({ 'board.js': '', 'config.json': '{}' });

    const { message } = captureError(
      () => new StaticWebsite(stack, 'Board', { sourceDirectory, connectTo: ['http://api.example', 'not a url'], logRetention: Duration.hours(36) }),
    );

    expect(message).toMatch(/has no index\.html/);
    expect(message).toMatch(/must not hold config\.json: it is written from `config`/);
    expect(message).toMatch(/`connectTo` http:\/\/api\.example must be an https:\/\/ or wss:\/\/ URL/);
    expect(message).toMatch(/`connectTo` not a url must be an https:\/\/ or wss:\/\/ URL/);
    expect(message).toMatch(/`logRetention` must be whole days, at least one, not 1 day 12 hours/);
    expect(message.split('; ')).toHaveLength(5);
  });

  it('refuses a source folder that does not exist', () => {
    const stack = new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');

    expect(() => new StaticWebsite(stack, 'Board', { sourceDirectory: path.join(os.tmpdir(), 'no-such-site-folder') })).toThrow(/is not a folder/);
  });
});

describe('cdk-nag AwsSolutions checks on stacks with a site of each removal policy, with deploy-time URLs', () => {
  itPassesNagChecks((app) => {
    for (const removalPolicy of [RemovalPolicy.RETAIN, RemovalPolicy.DESTROY]) {
      const stack = new Stack(app, `Site${removalPolicy}`);
      const apiUrl = new CfnParameter(stack, 'ApiUrl').valueAsString;
      new StaticWebsite(stack, 'Board', { sourceDirectory: siteFolder(), config: { apiUrl }, connectTo: [apiUrl], removalPolicy });
    }
  });
});
