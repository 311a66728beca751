import { isDeepStrictEqual } from 'node:util';
import type { CfnElement, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { renderIntrinsic } from './renderIntrinsic';

/**
 * One action on one resource. Statements are flattened to these so that a test states exactly what a
 * role may do, whether CDK merges statements (`@aws-cdk/iam:minimizePolicies`) or not.
 */
export interface Permission {
  readonly effect: 'Allow' | 'Deny';
  readonly action: string;
  readonly resource: unknown;
  readonly condition?: unknown;
}

interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly Resource?: unknown;
  readonly Condition?: unknown;
  readonly Principal?: unknown;
  readonly NotAction?: unknown;
  readonly NotResource?: unknown;
}

interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Every permission the identity policies attached to `role` grant, deduplicated and sorted. */
export function permissionsOf(template: Template, stack: Stack, role: IRole | undefined): Permission[] {
  if (!role) throw new Error('permissionsOf: the function has no role');
  const roleRef = { Ref: stack.getLogicalId(role.node.defaultChild as CfnElement) };
  const resources = template.toJSON().Resources as Record<string, CfnResourceJson>;
  const roleJson = resources[roleRef.Ref];
  if (roleJson?.Type !== 'AWS::IAM::Role') throw new Error(`permissionsOf: ${role.node.path} is not a role of this template`);

  const statements: Statement[] = asArray(roleJson.Properties?.Policies as { PolicyDocument: { Statement: Statement[] } }[])
    .flatMap((policy) => policy.PolicyDocument.Statement);
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const roles = asArray(resource.Properties?.Roles as unknown[]);
    if (!roles.some((r) => isDeepStrictEqual(r, roleRef))) continue;
    statements.push(...(resource.Properties?.PolicyDocument as { Statement: Statement[] }).Statement);
  }
  return permissionSet(statements.flatMap(toPermissions));
}

/** `Allow` of each action on each resource. */
export function allow(actions: string[], resources: unknown | unknown[]): Permission[] {
  return actions.flatMap((action) => asArray(resources).map((resource) => ({ effect: 'Allow' as const, action, resource })));
}

/** The same permissions, each only under `condition` (a statement's `Condition`). */
export function when(condition: unknown, permissions: Permission[]): Permission[] {
  return permissions.map((p) => ({ ...p, condition }));
}

/** A relay's right to put events on `bus`, and only with its own service's `source`. */
export function putEventsAs(source: string, bus: unknown): Permission[] {
  return when({ StringEquals: { 'events:source': source } }, allow(['events:PutEvents'], bus));
}

/** Permissions deduplicated and in a stable order, to compare with `toEqual`. */
export function permissionSet(...lists: Permission[][]): Permission[] {
  const byKey = new Map(lists.flat().map((p) => [JSON.stringify([p.effect, p.action, p.resource, p.condition]), p]));
  return [...byKey.keys()].sort().map((key) => byKey.get(key)!);
}

function toPermissions(statement: Statement): Permission[] {
  if (statement.NotAction !== undefined || statement.NotResource !== undefined) {
    throw new Error(`NotAction/NotResource is not expected in a toolkit policy: ${JSON.stringify(statement)}`);
  }
  return asArray(statement.Action).flatMap((action) =>
    asArray(statement.Resource).map((resource) => ({
      effect: statement.Effect,
      action,
      resource,
      ...(statement.Condition === undefined ? {} : { condition: statement.Condition }),
    })),
  );
}

/**
 * `Allow` statements anywhere in the template (identity policies, queue policies, key policies, …)
 * whose action is `*` or a whole service (`sqs:*`). Two kinds are not counted: `Deny` statements (the
 * TLS-only queue policies deny `sqs:*` on purpose) and the key policy statement that gives the
 * account root `kms:*` (CDK's default key policy, which delegates access to the key to IAM).
 */
export function wildcardAllows(template: Template): string[] {
  const found: string[] = [];
  for (const [logicalId, resource] of Object.entries(template.toJSON().Resources as Record<string, CfnResourceJson>)) {
    for (const statement of statementsIn(resource.Properties)) {
      if (statement.Effect !== 'Allow') continue;
      if (resource.Type === 'AWS::KMS::Key' && isAccountRoot(statement.Principal)) continue;
      for (const action of asArray(statement.Action)) {
        if (action === '*' || action.endsWith(':*')) found.push(`${resource.Type} ${logicalId}: Allow ${action}`);
      }
    }
  }
  return found;
}

/**
 * `Allow` statements anywhere in the template that let someone put events (`events:PutEvents`, or an
 * `events:Put*` pattern) without an `events:source` condition: with one, a function could put events
 * under any service's source.
 */
export function putEventsWithoutSource(template: Template): string[] {
  const found: string[] = [];
  for (const [logicalId, resource] of Object.entries(template.toJSON().Resources as Record<string, CfnResourceJson>)) {
    for (const statement of statementsIn(resource.Properties)) {
      if (statement.Effect !== 'Allow') continue;
      const puts = asArray(statement.Action).some((action) => /^events:Put(Events|\*)$/i.test(action) || action === 'events:*' || action === '*');
      const source = (statement.Condition as { StringEquals?: Record<string, unknown> } | undefined)?.StringEquals?.['events:source'];
      if (puts && source === undefined) found.push(`${resource.Type} ${logicalId}: ${JSON.stringify(statement.Action)}`);
    }
  }
  return found;
}

/**
 * Keys whose policy lets EventBridge use them that also encrypt something EventBridge does not write
 * (a table, or a queue that is neither a rule's target nor such a target's dead-letter queue):
 * `<key id>: <resource id>`. A rule's queue needs its key to allow `events.amazonaws.com`; that key
 * should encrypt nothing else.
 */
export function eventBridgeKeysSharedBeyondItsQueues(template: Template): string[] {
  const resources = template.toJSON().Resources as Record<string, CfnResourceJson>;
  const keys = Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::KMS::Key' && statementsIn(r.Properties).some((st) => JSON.stringify(st.Principal ?? '').includes('events.amazonaws.com')))
    .map(([id]) => id);
  const ruleTargets = new Set(
    Object.values(resources)
      .filter((r) => r.Type === 'AWS::Events::Rule')
      .flatMap((r) => asArray(r.Properties?.Targets as Array<{ Arn?: unknown; DeadLetterConfig?: { Arn?: unknown } }>))
      .flatMap((target) => [target.Arn, target.DeadLetterConfig?.Arn])
      .map((arn) => JSON.stringify(arn)),
  );
  // A target queue's own dead-letter queue holds the same messages: it may share the key.
  for (const [id, resource] of Object.entries(resources)) {
    const deadLetterTarget = (resource.Properties?.RedrivePolicy as { deadLetterTargetArn?: unknown } | undefined)?.deadLetterTargetArn;
    if (resource.Type === 'AWS::SQS::Queue' && deadLetterTarget !== undefined && ruleTargets.has(JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] }))) ruleTargets.add(JSON.stringify(deadLetterTarget));
  }
  const found: string[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const uses = JSON.stringify(resource.Type === 'AWS::SQS::Queue' ? resource.Properties?.KmsMasterKeyId : resource.Type === 'AWS::DynamoDB::Table' ? resource.Properties?.SSESpecification : undefined) ?? '';
    const key = keys.find((k) => uses.includes(`"${k}"`));
    if (!key) continue;
    if (resource.Type === 'AWS::SQS::Queue' && ruleTargets.has(JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] }))) continue;
    found.push(`${key}: ${resource.Type} ${id}`);
  }
  return found;
}

function statementsIn(value: unknown): Statement[] {
  if (Array.isArray(value)) return value.flatMap(statementsIn);
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  if (Array.isArray(record.Statement)) return record.Statement as Statement[];
  return Object.values(record).flatMap(statementsIn);
}

function isAccountRoot(principal: unknown): boolean {
  const aws = (principal as { AWS?: unknown } | undefined)?.AWS;
  if (aws === undefined || Array.isArray(aws)) return false;
  return /:iam::(\d{12}|\{\{Ref:AWS::AccountId\}\}):root$/.test(renderIntrinsic(aws));
}
