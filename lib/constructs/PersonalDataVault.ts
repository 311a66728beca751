import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ToolkitFunction } from './ToolkitFunction';
import type { TransactionalOutbox } from './TransactionalOutbox';
import { ERASE_FUNCTION_SERVICE_NAME, PRIVACY_ENV, PRIVACY_KEY_TABLE, PrivacyConfigSchema, type PrivacyMode } from '../../functions/toolkit/privacy/privacyConfig';

export interface PersonalDataVaultProps {
  /**
   * How subjects' keys are kept.
   * - `envelope`: one service CMK wraps a data key per subject, stored in `keyTable`. Costs one CMK
   *   (about $1 a month, up to $3 with yearly rotation) whatever the number of subjects; erase
   *   deletes the wrapped key.
   * - `per-subject-kms-key`: each subject gets a KMS key of their own, with an alias under
   *   `aliasPrefix`, created by the sealer; erase disables it and schedules its deletion. About $1
   *   per subject per month, and subject to the account's KMS key quota.
   * @default 'envelope'
   */
  readonly mode?: PrivacyMode;
  /**
   * `per-subject-kms-key` only: the alias prefix of the subjects' keys (each is `<prefix>/<subject>`),
   * e.g. `alias/coffee-customers`. Grants are scoped to keys with an alias under it. Letters,
   * digits, `/`, `_` and `-`, at most 128 characters, not under the reserved `alias/aws/`.
   * @default `alias/<stack name>-<id>`, lower-cased, other characters replaced by `-`
   */
  readonly aliasPrefix?: string;
  /**
   * The CMK that encrypts `keyTable` and, in `envelope` mode, wraps the subjects' data keys.
   * Deleting it makes every subject's data unreadable.
   * @default a new key with rotation on
   */
  readonly key?: kms.IKey;
  /** Of the key table and of a new key. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Plaintext data keys a function keeps in memory at most. @default the runtime's default (`PrivacyConfigSchema`: 1000) */
  readonly cacheMaxEntries?: number;
  /** How long a function keeps a plaintext data key, whole seconds. @default the runtime's default (`PrivacyConfigSchema`: 5 minutes) */
  readonly cacheMaxAge?: Duration;
  /**
   * How often a cached key's subject is checked again for an erasure tombstone, whole seconds: the
   * longest a function may go on opening an erased subject's data with a cached key.
   * @default the runtime's default (`PrivacyConfigSchema`: 5 seconds)
   */
  readonly tombstoneCheckInterval?: Duration;
  /**
   * The key table's point-in-time recovery period (DynamoDB `RecoveryPeriodInDays`), whole days
   * from 1 to 35. A backup keeps an erased subject's wrapped data key until it ages out of this
   * period, so in `envelope` mode erasure is complete in backups too only this long after the
   * erase: a shorter period shortens it. (In `per-subject-kms-key` mode erasure is complete in
   * backups once the subject's KMS key is deleted, 7 days or more after the erase.)
   * @default Duration.days(35)
   */
  readonly pointInTimeRecoveryPeriod?: Duration;
}

const DEFAULT_RECOVERY_PERIOD = Duration.days(35);
const MAX_ALIAS_PREFIX_LENGTH = 128;
const cacheSettings = PrivacyConfigSchema.shape;

/**
 * Keys for crypto-shredding personal data: a customer-managed KMS key (rotation on) and a key table
 * of per-subject wrapped data keys and erasure tombstones (partition key `subject`, point-in-time
 * recovery on, encrypted with the key). Functions get exact grants to seal, open or erase, which
 * also set their `PRIVACY_*` environment.
 */
export class PersonalDataVault extends Construct {
  /** Encrypts `keyTable`; in `envelope` mode also wraps the subjects' data keys. */
  public readonly key: kms.IKey;
  /** Wrapped data keys per subject and erasure tombstones: partition key `subject` (string). */
  public readonly keyTable: dynamodb.Table;
  /** The erase workflow's function, once `addEraseFunction` made it. */
  public eraseFunction?: ToolkitFunction;
  public readonly mode: PrivacyMode;
  /** `per-subject-kms-key` mode only: the alias prefix of the subjects' keys. */
  public readonly aliasPrefix?: string;
  private readonly environment: Record<string, string>;

  constructor(scope: Construct, id: string, props: PersonalDataVaultProps = {}) {
    super(scope, id);
    this.mode = props.mode ?? 'envelope';
    const strict = this.mode === 'per-subject-kms-key';
    this.aliasPrefix = strict ? (props.aliasPrefix ?? defaultAliasPrefix(this, id)) : undefined;
    validate(props, this.aliasPrefix);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.key =
      props.key ??
      new kms.Key(this, 'Key', { enableKeyRotation: true, description: `Personal data keys of ${this.node.path}`, removalPolicy });

    this.keyTable = new dynamodb.Table(this, 'KeyTable', {
      partitionKey: { name: PRIVACY_KEY_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: {
        pointInTimeRecoveryEnabled: true,
        recoveryPeriodInDays: (props.pointInTimeRecoveryPeriod ?? DEFAULT_RECOVERY_PERIOD).toDays(),
      },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      removalPolicy,
    });

    this.environment = {
      [PRIVACY_ENV.keyTableName]: this.keyTable.tableName,
      [PRIVACY_ENV.mode]: this.mode,
      ...(strict ? { [PRIVACY_ENV.aliasPrefix]: this.aliasPrefix! } : { [PRIVACY_ENV.keyArn]: this.key.keyArn }),
      [PRIVACY_ENV.cacheMaxEntries]: String(props.cacheMaxEntries ?? cacheSettings[PRIVACY_ENV.cacheMaxEntries].parse(undefined)),
      [PRIVACY_ENV.cacheMaxAgeSeconds]: String(
        props.cacheMaxAge?.toSeconds() ?? cacheSettings[PRIVACY_ENV.cacheMaxAgeSeconds].parse(undefined),
      ),
      [PRIVACY_ENV.tombstoneCheckSeconds]: String(
        props.tombstoneCheckInterval?.toSeconds() ?? cacheSettings[PRIVACY_ENV.tombstoneCheckSeconds].parse(undefined),
      ),
    };
  }

  /**
   * Lets `sealer` seal personal values: read a subject's key entry and create the first one
   * (`dynamodb:GetItem`, `dynamodb:PutItem`). `envelope`: `kms:GenerateDataKey` and `kms:Decrypt`
   * on the CMK. `per-subject-kms-key`: create a symmetric, single-region, KMS-generated key
   * (`kms:CreateKey`, which has no resource-level permissions), give it an alias under
   * `aliasPrefix` (`kms:CreateAlias`, on the alias and on the key), then tag it and generate and
   * unwrap data keys under it (`kms:GenerateDataKey`, `kms:Decrypt`) only while
   * it has such an alias. The new key must be created without tags: tagging is allowed only once
   * the alias is on it. KMS may take up to five minutes to authorize by a new alias (AWS KMS
   * Developer Guide, "Use aliases to control access to KMS keys"), so the first data key under a
   * brand-new subject key can be refused for that long: the runtime must retry it with backoff.
   * Sets the sealer's `PRIVACY_*` environment.
   */
  grantSeal(sealer: lambda.Function): iam.Grant {
    if (this.mode === 'envelope') {
      return this.grantKeyTable(sealer, ['dynamodb:GetItem', 'dynamodb:PutItem'], { decryptsWithKey: true }).combine(
        this.key.grant(sealer, 'kms:GenerateDataKey', 'kms:Decrypt'),
      );
    }
    const grant = this.grantKeyTable(sealer, ['dynamodb:GetItem', 'dynamodb:PutItem']);

    const createKey = iam.Grant.addToPrincipal({
      grantee: sealer,
      actions: ['kms:CreateKey'],
      resourceArns: ['*'],
      conditions: {
        StringEquals: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT', 'kms:KeyOrigin': 'AWS_KMS' },
        Bool: { 'kms:MultiRegion': 'false' },
      },
    });
    // CreateAlias is authorized on the alias and on the key; the key side cannot be conditioned on
    // its aliases (a new key has none), so the sealer could alias another IAM-delegated key of the
    // account under the prefix and then use it. Binding it to a tag set at CreateKey
    // (aws:RequestTag, then aws:ResourceTag) would close that, at the cost of a tagging contract
    // with the runtime.
    const createAlias = iam.Grant.addToPrincipal({
      grantee: sealer,
      actions: ['kms:CreateAlias'],
      resourceArns: [this.subjectAliasesArn, this.anyKeyArn],
    });
    const useKey = this.grantOnSubjectKeys(sealer, 'kms:GenerateDataKey', 'kms:Decrypt');
    this.acknowledgeWildcards(sealer, {
      '*': 'kms:CreateKey has no resource-level permissions (service authorization reference); the conditions allow symmetric, single-region keys with KMS-generated material only, so that deleting one really destroys it.',
      [this.subjectAliasesArn]: `The sealer names each subject's key ${this.aliasPrefix}/<subject> when it creates it: the subjects are not known at deploy time.`,
      [this.anyKeyArn]:
        "Per-subject keys are created at run time, so their ARNs are not known at deploy time. Using a key is allowed only while it has an alias under the vault's prefix (kms:ResourceAliases); kms:CreateAlias needs the key too, which has no alias yet when it is named.",
    });
    return grant.combine(createKey).combine(createAlias).combine(useKey);
  }

  /**
   * Lets `opener` open sealed values: read a subject's key entry (`dynamodb:GetItem`) and unwrap its
   * data key (`kms:Decrypt`): on the CMK (`envelope`), or on a key with an alias under
   * `aliasPrefix` (`per-subject-kms-key`). Sets the opener's `PRIVACY_*` environment.
   */
  grantOpen(opener: lambda.Function): iam.Grant {
    if (this.mode === 'envelope') {
      return this.grantKeyTable(opener, ['dynamodb:GetItem'], { decryptsWithKey: true }).combine(this.key.grant(opener, 'kms:Decrypt'));
    }
    const grant = this.grantKeyTable(opener, ['dynamodb:GetItem']);
    const decrypt = this.grantOnSubjectKeys(opener, 'kms:Decrypt');
    this.acknowledgeWildcards(opener, { [this.anyKeyArn]: subjectKeysReason });
    return grant.combine(decrypt);
  }

  /**
   * Lets `eraser` erase subjects: read a key entry and swap its wrapped key for a tombstone in one
   * conditional write (`dynamodb:GetItem`, `dynamodb:UpdateItem`), and nothing with the CMK but what
   * DynamoDB needs.
   * `per-subject-kms-key` also: find a subject's key by its alias (`kms:DescribeKey`), disable it
   * and schedule its deletion (`kms:DisableKey`, `kms:ScheduleKeyDeletion`), only for keys with an
   * alias under `aliasPrefix`. Sets the eraser's `PRIVACY_*` environment.
   */
  grantErase(eraser: lambda.Function): iam.Grant {
    const grant = this.grantKeyTable(eraser, ['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    if (this.mode === 'envelope') return grant;
    const destroy = this.grantOnSubjectKeys(eraser, 'kms:DescribeKey', 'kms:DisableKey', 'kms:ScheduleKeyDeletion');
    this.acknowledgeWildcards(eraser, { [this.anyKeyArn]: subjectKeysReason });
    return grant.combine(destroy);
  }

  /**
   * Sets the grantee's environment, and grants item actions on the key table and `kms:Decrypt` on
   * the table's key, which DynamoDB calls as the caller to read or write a table encrypted with a
   * customer-managed key. Unless the grantee may decrypt with the key anyway (`decryptsWithKey`:
   * the sealer and opener in `envelope` mode), only through DynamoDB (`kms:ViaService`): so that a
   * function that may read wrapped data keys, e.g. the eraser, cannot unwrap them.
   */
  /**
   * The erase workflow: a function (`EraseSubject`, invoked directly) that destroys a subject's key
   * and publishes `privacy.subject.erased` through `outbox`, so read models drop what they hold.
   * It may erase and commit, nothing else.
   */
  addEraseFunction(outbox: TransactionalOutbox, id = 'EraseSubject'): ToolkitFunction {
    const eraser = new ToolkitFunction(this, id, {
      entry: 'functions/toolkit/privacy/eraseHandler.ts',
      description: `Erases a data subject of ${outbox.source}: destroys their key, publishes privacy.subject.erased`,
      environment: { POWERTOOLS_SERVICE_NAME: ERASE_FUNCTION_SERVICE_NAME },
    });
    this.grantErase(eraser);
    outbox.grantCommit(eraser);
    this.eraseFunction = eraser;
    return eraser;
  }

  private grantKeyTable(grantee: lambda.Function, actions: string[], options: { decryptsWithKey?: boolean } = {}): iam.Grant {
    for (const [name, value] of Object.entries(this.environment)) grantee.addEnvironment(name, value);
    const items = iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.keyTable.tableArn] });
    if (options.decryptsWithKey) return items;
    const tableKey = iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:Decrypt'],
      resourceArns: [this.key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
    });
    return items.combine(tableKey);
  }

  /** `actions` on any key of this account and region, while it has an alias under `aliasPrefix`. */
  private grantOnSubjectKeys(grantee: lambda.Function, ...actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.anyKeyArn],
      conditions: { 'ForAnyValue:StringLike': { 'kms:ResourceAliases': `${this.aliasPrefix}/*` } },
    });
  }

  private get anyKeyArn(): string {
    return Stack.of(this).formatArn({ service: 'kms', resource: 'key', resourceName: '*' });
  }

  private get subjectAliasesArn(): string {
    return Stack.of(this).formatArn({ service: 'kms', resource: 'alias', resourceName: `${this.aliasPrefix!.replace(/^alias\//, '')}/*` });
  }

  /** Acknowledges cdk-nag's AwsSolutions-IAM5 finding for each wildcard resource, on the grantee's role. */
  private acknowledgeWildcards(grantee: lambda.Function, reasons: Record<string, string>): void {
    const stack = Stack.of(this);
    for (const [resource, reason] of Object.entries(reasons)) {
      Validations.of(grantee.role ?? grantee).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flattenForNag(stack.resolve(resource))}]`, reason });
    }
  }
}

const subjectKeysReason =
  "Per-subject keys are created at run time, so their ARNs are not known at deploy time; the statement allows only keys with an alias under the vault's prefix (kms:ResourceAliases).";

/** `alias/<stack>-<id>`: lower-cased, with characters an alias may not contain replaced by `-`. */
function defaultAliasPrefix(scope: Construct, id: string): string {
  const stackName = Stack.of(scope).stackName;
  const name = Token.isUnresolved(stackName) ? id : `${stackName}-${id}`;
  return `alias/${name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-')}`.slice(0, MAX_ALIAS_PREFIX_LENGTH);
}

/** A resolved ARN as cdk-nag names it in a finding: `Ref`s as `<Name>`, `Fn::Join` joined. */
function flattenForNag(value: unknown): string {
  if (typeof value === 'string') return value;
  const intrinsic = value as { Ref?: string; 'Fn::Join'?: [string, unknown[]] };
  if (intrinsic.Ref !== undefined) return `<${intrinsic.Ref}>`;
  if (intrinsic['Fn::Join']) return intrinsic['Fn::Join'][1].map(flattenForNag).join(intrinsic['Fn::Join'][0]);
  throw new Error(`PersonalDataVault: cannot name ${JSON.stringify(value)} for cdk-nag`);
}

function validate(props: PersonalDataVaultProps, aliasPrefix: string | undefined): void {
  const problems: string[] = [];
  const mode = props.mode ?? 'envelope';
  if (mode === 'envelope' && props.aliasPrefix !== undefined) {
    problems.push('`aliasPrefix` is for the `per-subject-kms-key` mode only');
  }
  if (aliasPrefix !== undefined && !Token.isUnresolved(aliasPrefix)) problems.push(...aliasPrefixProblems(aliasPrefix));

  const period = props.pointInTimeRecoveryPeriod;
  if (period && !period.isUnresolved()) {
    const days = period.toDays({ integral: false });
    if (!Number.isInteger(days) || days < 1 || days > 35) {
      problems.push(`\`pointInTimeRecoveryPeriod\` must be whole days from 1 to 35, not ${period.toHumanString()}`);
    }
  }

  const settings: [string, number | Duration | undefined, keyof typeof cacheSettings][] = [
    ['cacheMaxEntries', props.cacheMaxEntries, PRIVACY_ENV.cacheMaxEntries],
    ['cacheMaxAge', props.cacheMaxAge, PRIVACY_ENV.cacheMaxAgeSeconds],
    ['tombstoneCheckInterval', props.tombstoneCheckInterval, PRIVACY_ENV.tombstoneCheckSeconds],
  ];
  for (const [prop, value, variable] of settings) {
    if (value === undefined || (value instanceof Duration && value.isUnresolved())) continue;
    const seconds = value instanceof Duration ? value.toSeconds({ integral: false }) : value;
    // The runtime's own schema decides, so that a value the cold start would refuse fails the synth.
    const parsed = cacheSettings[variable].safeParse(String(seconds));
    if (!parsed.success) {
      const what = value instanceof Duration ? `${seconds} seconds` : String(value);
      const why = parsed.error.issues.map((issue) => issue.message).join(', ');
      problems.push(`\`${prop}\` of ${what} is refused by the runtime (${variable}): ${why}`);
    }
  }
  if (problems.length > 0) throw new Error(`PersonalDataVault: ${problems.join('; ')}`);
}

function aliasPrefixProblems(prefix: string): string[] {
  const problems: string[] = [];
  if (!PrivacyConfigSchema.shape[PRIVACY_ENV.aliasPrefix].safeParse(prefix).success) {
    problems.push(`\`aliasPrefix\` "${prefix}" must start with \`alias/\` and contain only letters, digits, \`/\`, \`_\` and \`-\``);
  }
  if (/^alias\/aws(\/|$)/.test(prefix)) problems.push('`aliasPrefix` must not be under `alias/aws/`, which AWS reserves');
  if (prefix.endsWith('/') || prefix.includes('//')) problems.push('`aliasPrefix` must not end with `/` or contain `//`');
  if (prefix.length > MAX_ALIAS_PREFIX_LENGTH) problems.push(`\`aliasPrefix\` must be at most ${MAX_ALIAS_PREFIX_LENGTH} characters`);
  return problems;
}
