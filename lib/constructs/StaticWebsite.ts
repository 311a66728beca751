import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, Duration, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { PROJECT_ROOT } from './ToolkitFunction';

/** The object the page reads its settings from, on its own origin. */
export const STATIC_WEBSITE_CONFIG_OBJECT = 'config.json';

/** What the page needs and nothing else: its own scripts, styles and images, and the APIs it is told to call. */
const CSP_FIXED_DIRECTIVES = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  'upgrade-insecure-requests',
];

export interface StaticWebsiteProps {
  /**
   * The folder of the site's files, relative to the repository root (or absolute). It must hold
   * `index.html` and must not hold a `config.json`: that object is written from `config`.
   */
  readonly sourceDirectory: string;
  /**
   * Glob patterns (as for `.gitignore`) of files in `sourceDirectory` not to deploy, e.g. `['*.d.ts']`.
   * @default [] (every file)
   */
  readonly exclude?: string[];
  /**
   * Settings the page reads from `/config.json` on its own origin, e.g. API endpoints. Values may be
   * tokens (an API's `url`): they are resolved at deploy time.
   * @default {} (an empty `config.json`)
   */
  readonly config?: Record<string, string>;
  /**
   * URLs (may be tokens) the page may `fetch` or open a WebSocket to: the origin (`scheme://host`)
   * of each is added to the Content-Security-Policy's `connect-src`, next to `'self'`.
   * E.g. `[httpApi.url, webSocketStage.url]`.
   * @default [] (only the site's own origin)
   */
  readonly connectTo?: string[];
  /**
   * The ARN of an AWS WAF web ACL (scope CLOUDFRONT, in us-east-1) to put in front of the
   * distribution.
   * @default - none (cdk-nag's AwsSolutions-CFR2 is acknowledged)
   */
  readonly webAclId?: string;
  /**
   * Countries the distribution serves or refuses.
   * @default - served everywhere (cdk-nag's AwsSolutions-CFR1 is acknowledged)
   */
  readonly geoRestriction?: cloudfront.GeoRestriction;
  /**
   * How long CloudFront's and S3's access logs are kept.
   * @default Duration.days(90)
   */
  readonly logRetention?: Duration;
  /**
   * What happens to the buckets and the key when the construct leaves the stack. `DESTROY` also
   * empties both buckets (every object version) before they are deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A static site served by CloudFront from a private S3 bucket: the bucket blocks all public access,
 * accepts TLS only, is versioned and encrypted with a customer-managed KMS key (rotation on), and
 * only this distribution may read it (origin access control). The distribution redirects HTTP to
 * HTTPS, speaks HTTP/2 and HTTP/3, and adds security headers with a Content-Security-Policy. The
 * site's files and a `config.json` (with deploy-time values) are deployed on every change, and the
 * distribution's cache is invalidated. Access logs of both go to a logs bucket.
 */
export class StaticWebsite extends Construct {
  /** The private bucket that holds the site. */
  public readonly bucket: s3.Bucket;
  /** The bucket that receives the site bucket's server access logs and CloudFront's access logs. */
  public readonly logBucket: s3.Bucket;
  /** The customer-managed key the site bucket is encrypted with. */
  public readonly key: kms.Key;
  /** The CloudFront distribution that serves the site, reading the bucket through origin access control. */
  public readonly distribution: cloudfront.Distribution;
  /** The security headers (HSTS, CSP, …) the distribution adds to every response. */
  public readonly responseHeadersPolicy: cloudfront.ResponseHeadersPolicy;
  /** Copies the files and `config.json` into the bucket and invalidates the distribution's cache. */
  public readonly deployment: s3deploy.BucketDeployment;
  /** `https://<distribution domain>`, the site's address. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: StaticWebsiteProps) {
    super(scope, id);
    const sourceDirectory = path.resolve(PROJECT_ROOT, props.sourceDirectory);
    validate(props, sourceDirectory);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const autoDeleteObjects = removalPolicy === RemovalPolicy.DESTROY;

    this.logBucket = new s3.Bucket(this, 'LogBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // S3 server access logs and CloudFront standard logs can be delivered only to SSE-S3 buckets,
      // and CloudFront standard logs only to a bucket with ACLs enabled.
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: props.logRetention ?? Duration.days(90) }],
      removalPolicy,
      autoDeleteObjects,
    });

    this.key = new kms.Key(this, 'Key', { enableKeyRotation: true, description: `Site bucket key of ${this.node.path}`, removalPolicy });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Old versions of the site are kept a while to roll back, not forever.
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy,
      autoDeleteObjects,
    });
    this.logServerAccess();
    // Its own key's policy cannot name this distribution: the key, the bucket and the distribution
    // would depend on each other. CDK scopes it to this account's distributions instead; the bucket
    // policy, which decides who may read an object at all, names this distribution only.
    Annotations.of(this).acknowledgeWarning(
      '@aws-cdk/aws-cloudfront-origins:wildcardKeyPolicyForOac',
      'The key serves this bucket only, whose policy lets no distribution but this one read it.',
    );

    this.responseHeadersPolicy = new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
      comment: `Security headers of ${this.node.path}`,
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: contentSecurityPolicy(props.connectTo ?? []), override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(730), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
        // The legacy XSS auditor is off in modern browsers and could be abused where it is not; the CSP protects instead.
        xssProtection: { protection: false, override: true },
      },
      customHeadersBehavior: {
        customHeaders: [
          { header: 'Cross-Origin-Opener-Policy', value: 'same-origin', override: true },
          { header: 'Permissions-Policy', value: 'camera=(), microphone=(), geolocation=(), payment=(), usb=()', override: true },
        ],
      },
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: this.node.path.slice(0, 128),
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeadersPolicy,
        compress: true,
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
      ...(props.webAclId ? { webAclId: props.webAclId } : {}),
      ...(props.geoRestriction ? { geoRestriction: props.geoRestriction } : {}),
    });
    this.acknowledgeDistributionFindings(props);

    const files = new s3assets.Asset(this, 'Files', { path: sourceDirectory, exclude: props.exclude ?? [] });
    this.deployment = new s3deploy.BucketDeployment(this, 'Deployment', {
      sources: [
        s3deploy.Source.bucket(files.bucket, files.s3ObjectKey),
        s3deploy.Source.jsonData(STATIC_WEBSITE_CONFIG_OBJECT, props.config ?? {}, { escape: true }),
      ],
      destinationBucket: this.bucket,
      // The file names carry no content hash: browsers must revalidate (ETag) instead of keeping a stale page.
      cacheControl: [s3deploy.CacheControl.noCache()],
      distribution: this.distribution,
      distributionPaths: ['/*'],
      retainOnDelete: !autoDeleteObjects,
    });
    this.acknowledgeDeploymentFindings(files);

    this.url = `https://${this.distribution.distributionDomainName}`;
  }

  /**
   * Server access logs of the site bucket, allowed by a bucket policy on the log bucket (what AWS
   * recommends). The Bucket's `serverAccessLogsBucket` would use the deprecated LogDeliveryWrite ACL
   * instead, unless the app sets the `@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy` flag.
   */
  private logServerAccess(): void {
    const prefix = 's3/';
    (this.bucket.node.defaultChild as s3.CfnBucket).loggingConfiguration = {
      destinationBucketName: this.logBucket.bucketName,
      logFilePrefix: prefix,
    };
    this.logBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.logBucket.arnForObjects(`${prefix}*`)],
        conditions: { ArnLike: { 'aws:SourceArn': this.bucket.bucketArn }, StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
  }

  private acknowledgeDistributionFindings(props: StaticWebsiteProps): void {
    const distribution = Validations.of(this.distribution);
    if (!props.geoRestriction) {
      distribution.acknowledge({
        id: 'AwsSolutions-CFR1',
        reason: 'The site is public and static, with no content restricted by country; pass `geoRestriction` to restrict it.',
      });
    }
    if (!props.webAclId) {
      distribution.acknowledge({
        id: 'AwsSolutions-CFR2',
        reason: 'The distribution serves read-only static files from S3 (GET/HEAD only); a web ACL costs more than it protects here. Pass `webAclId` to attach one.',
      });
    }
    distribution.acknowledge({
      id: 'AwsSolutions-CFR4',
      reason: 'The distribution uses the default *.cloudfront.net certificate, with which CloudFront does not let the minimum viewer TLS version be raised; that needs a custom domain and an ACM certificate, which the reference system does not have.',
    });
  }

  /**
   * The deployment's provider is CDK's shared Python function (one per stack and memory size), whose
   * role and runtime this construct does not choose. Each finding is acknowledged by its exact id,
   * on that function only.
   */
  private acknowledgeDeploymentFindings(files: s3assets.Asset): void {
    const role = this.deployment.handlerRole;
    const handler = role.node.scope;
    if (!handler) throw new Error('StaticWebsite: the bucket deployment role has no function');
    Validations.of(handler).acknowledge({
      id: 'AwsSolutions-L1',
      reason: "CDK's BucketDeployment provider pins its Python runtime together with the AWS CLI layer it ships; it is updated with aws-cdk-lib.",
    });
    const roleAck = Validations.of(role);
    roleAck.acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: "CDK's BucketDeployment provider role; the managed policy lets it write its own logs only (CreateLogGroup/Stream, PutLogEvents).",
    });
    const stack = Stack.of(this);
    const wildcards: Record<string, string> = {
      'Action::s3:GetObject*': 'Read the site asset (bootstrap bucket) and the site bucket, as CDK grants it (grantRead/grantReadWrite).',
      [`Resource::${flattenForNag(stack.resolve(files.bucket.arnForObjects('*')))}`]:
        "The site's zip is one object of the CDK bootstrap assets bucket, named by its content hash at synth; CDK's Source grants read on the bucket's objects.",
      'Action::s3:GetBucket*': 'Read the site bucket’s configuration during `aws s3 sync`, as CDK grants it (grantRead).',
      'Action::s3:List*': 'List the site asset and the site bucket to sync and prune, as CDK grants it (grantRead).',
      'Action::s3:DeleteObject*': 'Prune files removed from the site, as CDK grants it (grantReadWrite), on the site bucket only.',
      'Action::s3:Abort*': 'Abort multipart uploads of large files, as CDK grants it (grantReadWrite), on the site bucket only.',
      'Action::kms:ReEncrypt*': "Write SSE-KMS objects with the site bucket's key, as CDK grants it (grantReadWrite), on that key only.",
      'Action::kms:GenerateDataKey*': "Write SSE-KMS objects with the site bucket's key, as CDK grants it (grantReadWrite), on that key only.",
      [`Resource::<${stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*`]:
        'Object keys are the site’s file names, deployed and pruned as a whole; the bucket is dedicated to the site.',
      'Resource::*': "cloudfront:CreateInvalidation/GetInvalidation as CDK's BucketDeployment grants them; the distribution is created with the stack, and the provider function is shared by every deployment of the stack.",
    };
    for (const [finding, reason] of Object.entries(wildcards)) roleAck.acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
}

/** A resolved ARN as cdk-nag names it in a finding: `Ref`s and `${}` as `<Name>`, `Fn::Join` joined. */
function flattenForNag(value: unknown): string {
  if (typeof value === 'string') return value;
  const intrinsic = value as { Ref?: string; 'Fn::Join'?: [string, unknown[]]; 'Fn::Sub'?: unknown };
  if (intrinsic.Ref !== undefined) return `<${intrinsic.Ref}>`;
  if (intrinsic['Fn::Join']) return intrinsic['Fn::Join'][1].map(flattenForNag).join(intrinsic['Fn::Join'][0]);
  if (typeof intrinsic['Fn::Sub'] === 'string') return intrinsic['Fn::Sub'].replace(/\$\{([^}]+)\}/g, '<$1>');
  throw new Error(`StaticWebsite: cannot name ${JSON.stringify(value)} for cdk-nag`);
}

/** `scheme://host` of a URL, also when the URL is a token resolved at deploy time. */
export function originOf(url: string): string {
  if (!Token.isUnresolved(url)) return new URL(url).origin;
  const parts = Fn.split('/', url);
  return Fn.join('', [Fn.select(0, parts), '//', Fn.select(2, parts)]);
}

/** The Content-Security-Policy of the site: its own origin, plus `connect-src` to the origins of `connectTo`. */
export function contentSecurityPolicy(connectTo: string[]): string {
  const connect = ["'self'", ...connectTo.map(originOf)];
  return [...CSP_FIXED_DIRECTIVES.slice(0, 1), `connect-src ${connect.join(' ')}`, ...CSP_FIXED_DIRECTIVES.slice(1)].join('; ');
}

function validate(props: StaticWebsiteProps, sourceDirectory: string): void {
  const problems: string[] = [];
  if (!fs.existsSync(sourceDirectory) || !fs.statSync(sourceDirectory).isDirectory()) {
    problems.push(`\`sourceDirectory\` ${props.sourceDirectory} is not a folder`);
  } else {
    if (!fs.existsSync(path.join(sourceDirectory, 'index.html'))) problems.push(`\`sourceDirectory\` ${props.sourceDirectory} has no index.html`);
    if (fs.existsSync(path.join(sourceDirectory, STATIC_WEBSITE_CONFIG_OBJECT))) {
      problems.push(`\`sourceDirectory\` ${props.sourceDirectory} must not hold ${STATIC_WEBSITE_CONFIG_OBJECT}: it is written from \`config\``);
    }
  }
  for (const url of props.connectTo ?? []) {
    if (Token.isUnresolved(url)) continue;
    if (!URL.canParse(url) || !/^(https|wss):$/.test(new URL(url).protocol)) {
      problems.push(`\`connectTo\` ${url} must be an https:// or wss:// URL`);
    }
  }
  const retention = props.logRetention;
  if (retention && !retention.isUnresolved()) {
    const days = retention.toDays({ integral: false });
    if (!Number.isInteger(days) || days < 1) problems.push(`\`logRetention\` must be whole days, at least one, not ${retention.toHumanString()}`);
  }
  if (problems.length > 0) throw new Error(`StaticWebsite: ${problems.join('; ')}`);
}
