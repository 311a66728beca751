import { Duration, RemovalPolicy, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PRIVACY_ENV, PRIVACY_KEY_TABLE } from '../../functions/toolkit/privacy/privacyConfig';
import { PersonalDataVault, type PersonalDataVaultProps } from '../../lib/constructs/PersonalDataVault';
import { ToolkitFunction } from '../../lib/constructs/ToolkitFunction';
import { allow, permissionSet, permissionsOf, when, wildcardAllows, type Permission } from './support/iamPermissions';
import { itPassesNagChecks } from './support/nagReport';
import { projectApp, SKIP_BUNDLING } from './support/projectApp';
import { captureError } from './support/captureError';

/** `Stack` 'Test' and vault id 'Vault', lower-cased. */
const DEFAULT_ALIAS_PREFIX = 'alias/test-vault';
/** Any handler file will do for the cdk-nag stack: NodejsFunction only checks that the entry exists. */
const ENTRY = 'functions/toolkit/relay/handler.ts';

/** A stack of its own per scenario. These tests read the template only, so nothing is bundled. */
function newStack(): Stack {
  return new Stack(projectApp({ context: SKIP_BUNDLING }), 'Test');
}

/** A function with no grants of its own, so that everything on its role comes from the vault. */
function newFunction(stack: Stack, id: string): lambda.Function {
  return new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => undefined;'),
  });
}

function propertiesOf(template: Template, stack: Stack, construct: IConstruct): Record<string, any> {
  const resource = template.toJSON().Resources[stack.getLogicalId(construct.node.defaultChild as CfnElement)];
  if (!resource) throw new Error(`${construct.node.path} is not in the template`);
  return resource.Properties ?? {};
}

/** A sealer, an opener and an eraser, each granted one thing by a vault of `props`. */
function vaultWithGrantees(props: PersonalDataVaultProps = {}) {
  const stack = newStack();
  const vault = new PersonalDataVault(stack, 'Vault', props);
  const sealer = newFunction(stack, 'Sealer');
  const opener = newFunction(stack, 'Opener');
  const eraser = newFunction(stack, 'Eraser');
  vault.grantSeal(sealer);
  vault.grantOpen(opener);
  vault.grantErase(eraser);
  const template = Template.fromStack(stack);

  // What the expectations are built from, as the template renders it.
  const arn = (resource: string) => stack.resolve(stack.formatArn({ service: 'kms', resource, resourceName: '*' }));
  const aliasPrefix = vault.aliasPrefix ?? '';
  return {
    stack,
    vault,
    sealer,
    opener,
    eraser,
    template,
    table: stack.resolve(vault.keyTable.tableArn),
    key: stack.resolve(vault.key.keyArn),
    anyKey: arn('key'),
    subjectAliases: stack.resolve(stack.formatArn({ service: 'kms', resource: 'alias', resourceName: `${aliasPrefix.replace(/^alias\//, '')}/*` })),
    viaDynamoDb: { StringEquals: { 'kms:ViaService': stack.resolve(`dynamodb.${stack.region}.amazonaws.com`) } },
    withSubjectAlias: { 'ForAnyValue:StringLike': { 'kms:ResourceAliases': `${aliasPrefix}/*` } },
    permissionsOf: (fn: lambda.Function) => permissionsOf(template, stack, fn.role),
    environmentOf: (fn: lambda.Function) => propertiesOf(template, stack, fn).Environment.Variables,
  };
}

describe('PersonalDataVault with its defaults (envelope mode)', () => {
  let v: ReturnType<typeof vaultWithGrantees>;

  beforeAll(() => {
    v = vaultWithGrantees();
  });

  it('creates a customer-managed key with rotation on, kept on stack deletion', () => {
    v.template.resourceCountIs('AWS::KMS::Key', 1);
    v.template.hasResource('AWS::KMS::Key', { Properties: Match.objectLike({ EnableKeyRotation: true }), DeletionPolicy: 'Retain' });
  });

  it('creates a key table: string partition key `subject`, on demand, no sort key', () => {
    v.template.resourceCountIs('AWS::DynamoDB::Table', 1);
    v.template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({
        KeySchema: [{ AttributeName: PRIVACY_KEY_TABLE.partitionKey, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: PRIVACY_KEY_TABLE.partitionKey, AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
      DeletionPolicy: 'Retain',
    });
  });

  it('keeps 35 days of point-in-time recovery of the key table', () => {
    v.template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 35 },
    });
  });

  it('encrypts the key table with the vault key', () => {
    v.template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: v.key },
    });
  });

  it('grantSeal: get and put key entries, generate and unwrap data keys with the vault key, nothing else', () => {
    expect(v.permissionsOf(v.sealer)).toEqual(
      permissionSet(
        allow(['dynamodb:GetItem', 'dynamodb:PutItem'], v.table),
        allow(['kms:GenerateDataKey', 'kms:Decrypt'], v.key),
      ),
    );
  });

  it('grantOpen: get key entries and unwrap data keys with the vault key, nothing else', () => {
    expect(v.permissionsOf(v.opener)).toEqual(permissionSet(allow(['dynamodb:GetItem'], v.table), allow(['kms:Decrypt'], v.key)));
  });

  it('grantErase: get, tombstone and delete key entries; the vault key only through DynamoDB, so it cannot unwrap data keys', () => {
    expect(v.permissionsOf(v.eraser)).toEqual(
      permissionSet(
        allow(['dynamodb:GetItem', 'dynamodb:UpdateItem'], v.table),
        when(v.viaDynamoDb, allow(['kms:Decrypt'], v.key)),
      ),
    );
  });

  it('sets every grantee environment: key table, mode, key ARN and the runtime default cache settings', () => {
    for (const fn of [v.sealer, v.opener, v.eraser]) {
      expect(v.environmentOf(fn)).toEqual({
        [PRIVACY_ENV.keyTableName]: v.stack.resolve(v.vault.keyTable.tableName),
        [PRIVACY_ENV.mode]: 'envelope',
        [PRIVACY_ENV.keyArn]: v.key,
        [PRIVACY_ENV.cacheMaxEntries]: '1000',
        [PRIVACY_ENV.cacheMaxAgeSeconds]: '300',
        [PRIVACY_ENV.tombstoneCheckSeconds]: '5',
      });
    }
  });

  it('allows no action `*` or `service:*` anywhere', () => {
    expect(wildcardAllows(v.template)).toEqual([]);
  });
});

describe('PersonalDataVault in per-subject-kms-key mode', () => {
  let v: ReturnType<typeof vaultWithGrantees>;

  beforeAll(() => {
    v = vaultWithGrantees({ mode: 'per-subject-kms-key' });
  });

  it('names the subjects’ keys under alias/<stack>-<id>', () => {
    expect(v.vault.aliasPrefix).toBe(DEFAULT_ALIAS_PREFIX);
  });

  it('still creates the vault key (rotation on) and encrypts the key table with it', () => {
    v.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    v.template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: v.key },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 35 },
    });
  });

  it('grantSeal: create a symmetric single-region key, alias it under the prefix, then tag and use only keys with such an alias', () => {
    expect(v.permissionsOf(v.sealer)).toEqual(
      permissionSet(
        allow(['dynamodb:GetItem', 'dynamodb:PutItem'], v.table),
        when(v.viaDynamoDb, allow(['kms:Decrypt'], v.key)),
        when(
          { StringEquals: { 'kms:KeySpec': 'SYMMETRIC_DEFAULT', 'kms:KeyOrigin': 'AWS_KMS' }, Bool: { 'kms:MultiRegion': 'false' } },
          allow(['kms:CreateKey'], '*'),
        ),
        allow(['kms:CreateAlias'], [v.subjectAliases, v.anyKey]),
        when(v.withSubjectAlias, allow(['kms:GenerateDataKey', 'kms:Decrypt'], v.anyKey)),
      ),
    );
  });

  it('grantOpen: get key entries and decrypt only with keys aliased under the prefix', () => {
    expect(v.permissionsOf(v.opener)).toEqual(
      permissionSet(
        allow(['dynamodb:GetItem'], v.table),
        when(v.viaDynamoDb, allow(['kms:Decrypt'], v.key)),
        when(v.withSubjectAlias, allow(['kms:Decrypt'], v.anyKey)),
      ),
    );
  });

  it('grantErase: tombstone key entries, find, disable and schedule the deletion of keys aliased under the prefix only', () => {
    expect(v.permissionsOf(v.eraser)).toEqual(
      permissionSet(
        allow(['dynamodb:GetItem', 'dynamodb:UpdateItem'], v.table),
        when(v.viaDynamoDb, allow(['kms:Decrypt'], v.key)),
        when(v.withSubjectAlias, allow(['kms:DescribeKey', 'kms:DisableKey', 'kms:ScheduleKeyDeletion'], v.anyKey)),
      ),
    );
  });

  it('sets every grantee environment: key table, mode and alias prefix, and no service key ARN', () => {
    for (const fn of [v.sealer, v.opener, v.eraser]) {
      expect(v.environmentOf(fn)).toEqual({
        [PRIVACY_ENV.keyTableName]: v.stack.resolve(v.vault.keyTable.tableName),
        [PRIVACY_ENV.mode]: 'per-subject-kms-key',
        [PRIVACY_ENV.aliasPrefix]: DEFAULT_ALIAS_PREFIX,
        [PRIVACY_ENV.cacheMaxEntries]: '1000',
        [PRIVACY_ENV.cacheMaxAgeSeconds]: '300',
        [PRIVACY_ENV.tombstoneCheckSeconds]: '5',
      });
    }
  });

  it('allows no action `*` or `service:*` anywhere', () => {
    expect(wildcardAllows(v.template)).toEqual([]);
  });
});

describe('PersonalDataVault options', () => {
  it('keeps point-in-time recovery for the period given', () => {
    // Arrange + act
    const { template } = vaultWithGrantees({ pointInTimeRecoveryPeriod: Duration.days(7) });

    // Assert
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 7 },
    });
  });

  it('passes the cache settings given to every grantee', () => {
    const v = vaultWithGrantees({ cacheMaxEntries: 50, cacheMaxAge: Duration.minutes(1), tombstoneCheckInterval: Duration.seconds(2) });

    for (const fn of [v.sealer, v.opener, v.eraser]) {
      expect(v.environmentOf(fn)).toMatchObject({
        [PRIVACY_ENV.cacheMaxEntries]: '50',
        [PRIVACY_ENV.cacheMaxAgeSeconds]: '60',
        [PRIVACY_ENV.tombstoneCheckSeconds]: '2',
      });
    }
  });

  it('scopes the per-subject keys to the alias prefix given', () => {
    const v = vaultWithGrantees({ mode: 'per-subject-kms-key', aliasPrefix: 'alias/coffee/customers' });

    expect(v.environmentOf(v.opener)[PRIVACY_ENV.aliasPrefix]).toBe('alias/coffee/customers');
    expect(v.permissionsOf(v.opener)).toEqual(
      expect.arrayContaining(
        when({ 'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/coffee/customers/*' } }, allow(['kms:Decrypt'], v.anyKey)),
      ),
    );
    expect(v.permissionsOf(v.sealer)).toEqual(expect.arrayContaining(allow(['kms:CreateAlias'], v.subjectAliases)));
    expect(v.subjectAliases['Fn::Join'][1].at(-1)).toBe(':alias/coffee/customers/*');
  });

  it('lower-cases the default alias prefix and replaces what an alias may not contain', () => {
    const stack = newStack();

    const vault = new PersonalDataVault(stack, 'Customer Data.v2', { mode: 'per-subject-kms-key' });

    expect(vault.aliasPrefix).toBe('alias/test-customer-data-v2');
  });

  it('uses the key given instead of creating one, for the table and the grants', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'SharedKey', { enableKeyRotation: true });
    const vault = new PersonalDataVault(stack, 'Vault', { key, removalPolicy: RemovalPolicy.DESTROY });
    const opener = newFunction(stack, 'Opener');

    vault.grantOpen(opener);

    const template = Template.fromStack(stack);
    expect(vault.key).toBe(key);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({ SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: stack.resolve(key.keyArn) } }),
      DeletionPolicy: 'Delete',
    });
    expect(permissionsOf(template, stack, opener.role)).toEqual(expect.arrayContaining(allow(['kms:Decrypt'], stack.resolve(key.keyArn))));
  });
});

describe('PersonalDataVault validation', () => {
  it('throws one error that lists every problem', () => {
    const stack = newStack();

    const error = captureError(() =>
      new PersonalDataVault(stack, 'Vault', {
        aliasPrefix: 'alias/customers',
        pointInTimeRecoveryPeriod: Duration.days(36),
        cacheMaxAge: Duration.hours(2),
        tombstoneCheckInterval: Duration.millis(1500),
        cacheMaxEntries: 0,
      }),
    );

    const { message } = error;
    expect(message).toMatch(/`aliasPrefix` is for the `per-subject-kms-key` mode only/);
    expect(message).toMatch(/`pointInTimeRecoveryPeriod` must be whole days from 1 to 35, not 36 days/);
    expect(message).toMatch(/`cacheMaxAge` of 7200 seconds is refused by the runtime \(PRIVACY_CACHE_MAX_AGE_SECONDS\): .*3600/);
    expect(message).toMatch(/`tombstoneCheckInterval` of 1\.5 seconds is refused by the runtime \(PRIVACY_TOMBSTONE_CHECK_SECONDS\): .*int/);
    expect(message).toMatch(/`cacheMaxEntries` of 0 is refused by the runtime \(PRIVACY_CACHE_MAX_ENTRIES\)/);
    expect(message.split('; ')).toHaveLength(5);
  });

  it('refuses a recovery period that is not whole days, or shorter than a day', () => {
    expect(captureError(() => new PersonalDataVault(newStack(), 'Vault', { pointInTimeRecoveryPeriod: Duration.hours(36) })).message).toMatch(
      /`pointInTimeRecoveryPeriod` must be whole days from 1 to 35, not 1 day 12 hours/,
    );
    expect(captureError(() => new PersonalDataVault(newStack(), 'Vault', { pointInTimeRecoveryPeriod: Duration.hours(12) })).message).toMatch(
      /`pointInTimeRecoveryPeriod` must be whole days from 1 to 35/,
    );
  });

  it.each([
    ['without alias/', 'customers', /must start with `alias\/`/],
    ['with a character an alias may not contain', 'alias/customers*', /must start with `alias\/` and contain only/],
    ['under the reserved alias/aws/', 'alias/aws/customers', /must not be under `alias\/aws\/`/],
    ['ending with /', 'alias/customers/', /must not end with `\/`/],
    ['too long', `alias/${'c'.repeat(130)}`, /at most 128 characters/],
  ])('refuses an alias prefix %s', (_case, aliasPrefix, expected) => {
    const error = captureError(() => new PersonalDataVault(newStack(), 'Vault', { mode: 'per-subject-kms-key', aliasPrefix }));

    expect(error.message).toMatch(expected);
  });
});

describe('cdk-nag AwsSolutions checks on a stack with a vault of each mode and a sealer, an opener and an eraser of each', () => {
  itPassesNagChecks((app) => {
    const stack = new Stack(app, 'Vaults');
    for (const mode of ['envelope', 'per-subject-kms-key'] as const) {
      const vault = new PersonalDataVault(stack, `${mode}Vault`, { mode });
      vault.grantSeal(new ToolkitFunction(stack, `${mode}Sealer`, { entry: ENTRY }));
      vault.grantOpen(new ToolkitFunction(stack, `${mode}Opener`, { entry: ENTRY }));
      vault.grantErase(new ToolkitFunction(stack, `${mode}Eraser`, { entry: ENTRY }));
    }
  });
});
