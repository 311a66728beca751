import {
  DynamoDBClient,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type Put,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { newEventId, newTraceparent, type EventEnvelope } from '../envelope';
import { ConcurrencyError } from './errors';
import { OUTBOX } from './outboxItem';
import { planCommit, type AggregateChange, type PlannedWrite } from './planCommit';

export interface OutboxOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** The CloudEvents `source` of this service, e.g. `coffee.orders`. */
  readonly source: string;
  /** How long outbox items are kept; `undefined` keeps them for good. */
  readonly retentionSeconds?: number;
  readonly clock?: () => Date;
  readonly newId?: () => string;
}

export interface CommitOptions {
  /** The caller's trace context; a new trace is started when absent. */
  readonly traceparent?: string;
}

/**
 * The transactional outbox: commits aggregate changes and their events in one DynamoDB transaction.
 * Either everything is written or nothing is; a stale `expectedVersion` throws `ConcurrencyError`.
 */
export class Outbox {
  private readonly clock: () => Date;
  private readonly newId: () => string;

  constructor(private readonly options: OutboxOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.newId = options.newId ?? newEventId;
  }

  async commit(changes: readonly AggregateChange[], options: CommitOptions = {}): Promise<EventEnvelope[]> {
    const plan = planCommit(changes, {
      source: this.options.source,
      now: this.clock(),
      newId: this.newId,
      traceparent: options.traceparent ?? newTraceparent(),
      ...(this.options.retentionSeconds === undefined ? {} : { retentionSeconds: this.options.retentionSeconds }),
    });
    const items = plan.writes.map((write) => this.toTransactItem(write));
    try {
      await this.options.client.send(
        new TransactWriteItemsCommand({
          TransactItems: items,
          // Makes the SDK's own retries idempotent when a response is lost after the write took effect.
          ClientRequestToken: plan.events[0]?.id,
        }),
      );
    } catch (error) {
      throw this.translate(error, plan.writes);
    }
    return [...plan.events];
  }

  private toTransactItem(write: PlannedWrite): TransactWriteItem {
    const condition: Pick<Put, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> =
      write.condition.kind === 'absent'
        ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': OUTBOX.partitionKey } }
        : {
            ConditionExpression: '#version = :expected',
            ExpressionAttributeNames: { '#version': OUTBOX.versionAttribute },
            ExpressionAttributeValues: marshall({ ':expected': write.condition.version }),
          };
    return {
      Put: {
        TableName: this.options.tableName,
        Item: marshall(write.item, { removeUndefinedValues: true, convertClassInstanceToMap: true }),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ...condition,
      },
    };
  }

  private translate(error: unknown, writes: readonly PlannedWrite[]): unknown {
    if (!(error instanceof TransactionCanceledException)) return error;
    const reasons = error.CancellationReasons ?? [];
    const index = reasons.findIndex((reason) => reason.Code === 'ConditionalCheckFailed');
    const write = writes[index];
    if (!write) return error;
    const old = reasons[index]?.Item ? unmarshall(reasons[index].Item) : undefined;
    const expected = write.condition.kind === 'version' ? write.condition.version : 0;
    const actual = write.isEvent ? undefined : (old?.[OUTBOX.versionAttribute] as number | undefined);
    return new ConcurrencyError(write.aggregateId, expected, actual, { cause: error });
  }
}
