import { ConditionalCheckFailedException, GetItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { CLOSED, type CircuitState, type CircuitStore, type VersionedCircuitState } from './circuitBreaker';
import { ConsumerError } from './errors';

/** Item ids: `circuit#<name>` per circuit, and one item listing the circuits that ever opened. */
export const circuitItemId = (name: string): string => `circuit#${name}`;
export const CIRCUIT_REGISTRY_ID = 'circuit-registry';

/**
 * A consumer's circuits in its idempotency table (key attribute `id`). Powertools' records never
 * clash: their ids are `<function name>[.<handler>]#<hash>`, and a circuit name is restricted to
 * letters, digits, `.`, `_` and `-`. Each circuit is one item, written only with a condition on the
 * version read (optimistic concurrency), so concurrent invocations never lose a failure; no TTL.
 * Uses GetItem and UpdateItem only.
 */
export class DynamoCircuitStore implements CircuitStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async load(name: string): Promise<VersionedCircuitState> {
    const got = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: marshall({ id: circuitItemId(name) }), ConsistentRead: true }));
    if (!got.Item) return { state: CLOSED, version: 0 };
    const item = unmarshall(got.Item);
    return { state: toState(item), version: Number(item.version) };
  }

  async save(name: string, state: CircuitState, expectedVersion: number): Promise<boolean> {
    // Registered first, so that the closer finds every open circuit (a lost race leaves a name, harmless).
    if (state.status === 'open') await this.register(name);
    const fields = toFields(state);
    const absent = ALL_FIELDS.filter((field) => !(field in fields));
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ id: circuitItemId(name) }),
          UpdateExpression: [
            `SET ${['version', 'circuit', ...Object.keys(fields)].map((field) => `#${field} = :${field}`).join(', ')}`,
            ...(absent.length > 0 ? [`REMOVE ${absent.map((field) => `#${field}`).join(', ')}`] : []),
          ].join(' '),
          ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(id)' : '#version = :expected',
          ExpressionAttributeNames: Object.fromEntries(['version', 'circuit', ...ALL_FIELDS].map((field) => [`#${field}`, field])),
          ExpressionAttributeValues: marshall({
            ':version': expectedVersion + 1,
            ':circuit': name,
            ...Object.fromEntries(Object.entries(fields).map(([field, value]) => [`:${field}`, value])),
            ...(expectedVersion === 0 ? {} : { ':expected': expectedVersion }),
          }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async names(): Promise<string[]> {
    const got = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: marshall({ id: CIRCUIT_REGISTRY_ID }), ConsistentRead: true }));
    const names = got.Item ? (unmarshall(got.Item).names as Set<string> | undefined) : undefined;
    return [...(names ?? [])].sort();
  }

  private async register(name: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: marshall({ id: CIRCUIT_REGISTRY_ID }),
        UpdateExpression: 'ADD #names :name',
        ExpressionAttributeNames: { '#names': 'names' },
        ExpressionAttributeValues: { ':name': { SS: [name] } },
      }),
    );
  }
}

const ALL_FIELDS = ['status', 'failures', 'openedAt', 'openUntil', 'since'] as const;

function toFields(state: CircuitState): Record<string, unknown> {
  switch (state.status) {
    case 'closed':
      return { status: state.status, failures: [...state.failures] };
    case 'open':
      return { status: state.status, openedAt: state.openedAt, openUntil: state.openUntil };
    case 'half-open':
      return { status: state.status, since: state.since };
  }
}

function toState(item: Record<string, any>): CircuitState {
  switch (item.status) {
    case 'open':
      return { status: 'open', openedAt: Number(item.openedAt), openUntil: Number(item.openUntil) };
    case 'half-open':
      return { status: 'half-open', since: Number(item.since) };
    case 'closed':
      return { status: 'closed', failures: ((item.failures ?? []) as unknown[]).map(Number) };
    default:
      throw new ConsumerError(`circuit item ${String(item.id)} has an unknown status ${String(item.status)}`);
  }
}
