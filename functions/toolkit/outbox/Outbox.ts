import { DynamoDBClient, TransactionCanceledException, type Put, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type * as z from 'zod';
import { newEventId, newTraceparent, type EventEnvelope } from '../envelope';
import type { InboxClaim } from '../inbox/inbox';
import { sealPersonalFields } from '../privacy/personal';
import type { FieldSealer } from '../privacy/ports';
import { ConcurrencyError, GuardFailedError } from './errors';
import { OUTBOX } from './outboxItem';
import { planCommit, type AggregateChange, type PlannedWrite } from './planCommit';
import { transactWrite } from './transactWrite';

export interface OutboxOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** The CloudEvents `source` of this service, e.g. `coffee.orders`. */
  readonly source: string;
  /** How long outbox items are kept; `undefined` keeps them for good. */
  readonly retentionSeconds?: number;
  readonly clock?: () => Date;
  readonly newId?: () => string;
  /**
   * Seals the personal fields (marked with `personal()`) of the events whose type has a schema here,
   * before anything is written: no plaintext personal data reaches the table, the log or a queue.
   */
  readonly privacy?: { readonly sealer: FieldSealer; readonly schemas: Readonly<Record<string, z.ZodType>> };
}

export interface CommitOptions {
  /** The caller's trace context; a new trace is started when absent. */
  readonly traceparent?: string;
  /**
   * Conditions on other items that must hold at commit time, checked in the same transaction
   * (DynamoDB `ConditionCheck`): the decision was made on what these items said, e.g. "the order
   * has not been cancelled". A failed guard writes nothing and throws `GuardFailedError`.
   */
  readonly guards?: readonly CommitGuard[];
  /**
   * A consumer's claim on the message it is applying (`ConsumerContext.inbox`): its inbox item is
   * written in this transaction, so the effect happens once. If the message was applied before,
   * nothing is written and `AlreadyAppliedError` is thrown (the consumer acknowledges it).
   */
  readonly inbox?: InboxClaim;
}

/** A condition on one item, checked atomically with the commit. */
export interface CommitGuard {
  /** @default the outbox table */
  readonly tableName?: string;
  readonly key: Readonly<Record<string, string>>;
  /** A DynamoDB condition expression, e.g. `attribute_not_exists(cancelledAt)`. */
  readonly condition: string;
  readonly names?: Readonly<Record<string, string>>;
  readonly values?: Readonly<Record<string, unknown>>;
  /** What the decision relied on, in the domain's words; the `GuardFailedError` says it. */
  readonly reason: string;
}

/**
 * The transactional outbox: commits aggregate changes and their events in one DynamoDB transaction.
 * Either everything is written or nothing is; a stale `expectedVersion` throws `ConcurrencyError`;
 * a `TransactionConflict` is retried with backoff (then `TransactionConflictError`, transient).
 */
export class Outbox {
  private readonly clock: () => Date;
  private readonly newId: () => string;

  constructor(private readonly options: OutboxOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.newId = options.newId ?? newEventId;
  }

  async commit(changes: readonly AggregateChange[], options: CommitOptions = {}): Promise<EventEnvelope[]> {
    const plan = planCommit(await this.sealed(changes), {
      source: this.options.source,
      now: this.clock(),
      newId: this.newId,
      traceparent: options.traceparent ?? newTraceparent(),
      ...(this.options.retentionSeconds === undefined ? {} : { retentionSeconds: this.options.retentionSeconds }),
    });
    const guards = options.guards ?? [];
    const items = [...plan.writes.map((write) => this.toTransactItem(write)), ...guards.map((guard) => this.toConditionCheck(guard))];
    try {
      await transactWrite(this.options.client, items, {
        // Makes the SDK's own retries idempotent when a response is lost after the write took effect.
        ...(plan.events[0] ? { clientRequestToken: plan.events[0].id } : {}),
        ...(options.inbox ? { inbox: options.inbox } : {}),
        clock: this.clock,
      });
    } catch (error) {
      throw this.translate(error, plan.writes, guards);
    }
    return [...plan.events];
  }

  private async sealed(changes: readonly AggregateChange[]): Promise<readonly AggregateChange[]> {
    const privacy = this.options.privacy;
    if (!privacy) return changes;
    return Promise.all(
      changes.map(async (change) => ({
        ...change,
        events: await Promise.all(
          change.events.map(async (event) => {
            const schema = privacy.schemas[event.type];
            return schema ? { ...event, data: await sealPersonalFields(schema, event.data, event.dataSubject ?? change.id, privacy.sealer) } : event;
          }),
        ),
      })),
    );
  }

  private toTransactItem(write: PlannedWrite): TransactWriteItem {
    const item = marshall(write.item, { removeUndefinedValues: true, convertClassInstanceToMap: true });
    const tableName = write.tableName ?? this.options.tableName;
    const { condition } = write;
    if (condition.kind === 'none') return { Put: { TableName: tableName, Item: item } };
    const expression: Pick<Put, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> =
      condition.kind === 'absent'
        ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': OUTBOX.partitionKey } }
        : condition.kind === 'version'
          ? {
              ConditionExpression: '#version = :expected',
              ExpressionAttributeNames: { '#version': OUTBOX.versionAttribute },
              ExpressionAttributeValues: marshall({ ':expected': condition.version }),
            }
          : {
              ConditionExpression: condition.expression,
              ...(condition.names ? { ExpressionAttributeNames: { ...condition.names } } : {}),
              ...(condition.values ? { ExpressionAttributeValues: marshall(condition.values, { removeUndefinedValues: true }) } : {}),
            };
    return { Put: { TableName: tableName, Item: item, ReturnValuesOnConditionCheckFailure: 'ALL_OLD', ...expression } };
  }

  private toConditionCheck(guard: CommitGuard): TransactWriteItem {
    return {
      ConditionCheck: {
        TableName: guard.tableName ?? this.options.tableName,
        Key: marshall(guard.key),
        ConditionExpression: guard.condition,
        ...(guard.names ? { ExpressionAttributeNames: { ...guard.names } } : {}),
        ...(guard.values ? { ExpressionAttributeValues: marshall(guard.values, { removeUndefinedValues: true }) } : {}),
      },
    };
  }

  private translate(error: unknown, writes: readonly PlannedWrite[], guards: readonly CommitGuard[]): unknown {
    if (!(error instanceof TransactionCanceledException)) return error;
    const reasons = error.CancellationReasons ?? [];
    const index = reasons.findIndex((reason) => reason.Code === 'ConditionalCheckFailed');
    const guard = guards[index - writes.length];
    if (index >= writes.length && guard) return new GuardFailedError(guard.reason, { cause: error });
    const write = writes[index];
    if (!write) return error;
    if (write.isPut) {
      const conflict = new ConcurrencyError(write.aggregateId, 0, undefined, { cause: error });
      conflict.message = `An item put with aggregate ${write.aggregateId} no longer satisfies its condition: it changed meanwhile`;
      return conflict;
    }
    const old = reasons[index]?.Item ? unmarshall(reasons[index].Item) : undefined;
    const expected = write.condition.kind === 'version' ? write.condition.version : 0;
    const actual = write.isEvent ? undefined : (old?.[OUTBOX.versionAttribute] as number | undefined);
    return new ConcurrencyError(write.aggregateId, expected, actual, { cause: error });
  }
}
