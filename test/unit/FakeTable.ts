import {
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type AttributeValue,
  type CancellationReason,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { parseEvent, type EventEnvelope } from '../../functions/toolkit/envelope';
import { outboxPartitionKey } from '../../functions/toolkit/outbox/outboxItem';

type Item = Record<string, AttributeValue>;

/**
 * An in-memory DynamoDB table answering the three calls the event store makes, as DynamoDB does:
 * consistent GetItem; Query on `pk` with `sk BETWEEN`, in sort-key order, `pageSize` items a page;
 * TransactWriteItems all-or-nothing with the outbox's two conditions (absent, version =).
 */
export class FakeTable {
  readonly items = new Map<string, Item>();
  readonly calls: string[] = [];
  /** Query items returned, over all pages. */
  itemsQueried = 0;
  /** Runs before each transaction is checked: lets a test slip in a concurrent writer or a fault. */
  beforeTransact: (() => Promise<void> | void) | undefined;

  constructor(private readonly pageSize = 4) {}

  readonly client = {
    send: async (command: unknown): Promise<unknown> => {
      if (command instanceof GetItemCommand) {
        this.calls.push('GetItem');
        const key = command.input.Key!;
        const item = this.items.get(FakeTable.id(key.pk!.S!, key.sk!.S!));
        return item ? { Item: item } : {};
      }
      if (command instanceof QueryCommand) {
        this.calls.push('Query');
        const values = command.input.ExpressionAttributeValues!;
        const [pk, from, to] = [values[':pk']!.S!, values[':from']!.S!, values[':to']!.S!];
        const after = command.input.ExclusiveStartKey?.sk?.S;
        const matching = [...this.items.values()]
          .filter((item) => item.pk!.S === pk && item.sk!.S! >= from && item.sk!.S! <= to && (after === undefined || item.sk!.S! > after))
          .sort((a, b) => a.sk!.S!.localeCompare(b.sk!.S!));
        const page = matching.slice(0, this.pageSize);
        this.itemsQueried += page.length;
        const last = page.at(-1);
        return { Items: page, ...(matching.length > this.pageSize && last ? { LastEvaluatedKey: { pk: last.pk!, sk: last.sk! } } : {}) };
      }
      if (command instanceof TransactWriteItemsCommand) {
        this.calls.push('TransactWriteItems');
        await this.beforeTransact?.();
        return this.transact(command);
      }
      throw new Error(`the fake does not answer ${String(command)}`);
    },
  };

  get dynamodb(): DynamoDBClient {
    return this.client as unknown as DynamoDBClient;
  }

  put(item: Record<string, unknown>): void {
    const marshalled = marshall(item);
    this.items.set(FakeTable.id(marshalled.pk!.S!, marshalled.sk!.S!), marshalled);
  }

  get(pk: string, sk: string): Record<string, unknown> | undefined {
    const item = this.items.get(FakeTable.id(pk, sk));
    return item ? unmarshall(item) : undefined;
  }

  /** The stream's events as stored, in sequence order. */
  log(streamId: string): EventEnvelope[] {
    return [...this.items.values()]
      .filter((item) => item.pk!.S === outboxPartitionKey(streamId))
      .sort((a, b) => a.sk!.S!.localeCompare(b.sk!.S!))
      .map((item) => parseEvent(item.envelope!.S!));
  }

  private transact(command: TransactWriteItemsCommand): object {
    const puts = (command.input.TransactItems ?? []).map((entry) => {
      if (!entry.Put) throw new Error('the fake only answers Put items');
      return entry.Put;
    });
    const reasons: CancellationReason[] = puts.map((put) => {
      const old = this.items.get(FakeTable.id(put.Item!.pk!.S!, put.Item!.sk!.S!));
      const condition = put.ConditionExpression;
      if (condition === undefined) return { Code: 'None' };
      if (condition === 'attribute_not_exists(#pk)') return old ? { Code: 'ConditionalCheckFailed', Item: old } : { Code: 'None' };
      if (condition === '#version = :expected') {
        return old?.version?.N === put.ExpressionAttributeValues![':expected']!.N ? { Code: 'None' } : { Code: 'ConditionalCheckFailed', ...(old ? { Item: old } : {}) };
      }
      throw new Error(`the fake does not evaluate ${condition}`);
    });
    if (reasons.some((reason) => reason.Code !== 'None')) {
      throw new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: reasons });
    }
    for (const put of puts) this.items.set(FakeTable.id(put.Item!.pk!.S!, put.Item!.sk!.S!), put.Item!);
    return {};
  }

  private static id(pk: string, sk: string): string {
    return `${pk}\u0000${sk}`;
  }
}
