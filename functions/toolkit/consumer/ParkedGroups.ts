import { BatchGetItemCommand, type BatchGetItemCommandOutput, ConditionalCheckFailedException, DeleteItemCommand, DynamoDBClient, GetItemCommand, ScanCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { digestOf } from '../inbox/inbox';

/** A FIFO group held back because one of its messages was dead-lettered. */
export interface ParkedGroup {
  readonly group: string;
  readonly parkedAt: string;
  readonly reason: string;
  /** How many later messages were diverted to the DLQ behind the dead-lettered one. */
  readonly diverted: number;
  /** Diversions under way (message id → since when); the park cannot be lifted while any is. */
  readonly pending: Readonly<Record<string, string>>;
  /** The redrive run in which a redriven message of the group failed again, if any: left parked. */
  readonly failedInRun?: string;
  /** The last release marker the consumer reached and could not release on (`<runId>/<pass>`). */
  readonly heldAt?: string;
  /**
   * The redrive runs in which a redriven message of the group failed again, oldest first. Each run's
   * failed message and the run's later messages of the group went to their own DLQ group
   * (`generationGroup`), because live messages diverted meanwhile sit in the group's DLQ group ahead
   * of them: a redrive sends the newest run's DLQ group first, then older ones, then the group's own.
   */
  readonly generations: readonly string[];
}

/** Message attribute with which the redrive tool marks the messages it sends back. */
export const REDRIVE_ATTRIBUTE = 'redriveRun';
/** Message attribute of a release marker: the redrive tool's last message of a group in one pass. */
export const RELEASE_ATTRIBUTE = 'redriveRelease';

/** Message attribute of a dead letter in a generation group: the consumer's group it belongs to. */
export const PARKED_GROUP_ATTRIBUTE = 'parkedGroup';

/**
 * The DLQ group of a redrive run's messages of `group` that came back to the DLQ in that run (the one
 * that failed again, and those behind it). Deterministic, so a retried send lands in the same group.
 */
export function generationGroup(group: string, runId: string): string {
  return `redriven-${digestOf([group, runId]).slice(0, 48)}`;
}

/** The park as the consumer's hot path reads it. */
export interface ParkState {
  readonly generations: readonly string[];
}

/** The body of a release marker. */
export const ReleaseMarkerSchema = z.object({ runId: z.string().min(1), pass: z.number().int().positive(), group: z.string().min(1), diverted: z.number().int().min(0) }).strict();
export type ReleaseMarker = z.infer<typeof ReleaseMarkerSchema>;

/** What reaching a release marker did. */
export type ReleaseOutcome = 'released' | 'held' | 'not-parked';

/**
 * Parked FIFO groups of one consumer, kept in its state table (id `parked#<group>`; inbox items and
 * Powertools' records use other ids). The order-preserving dead-letter protocol:
 * - a dead-lettered message parks its group;
 * - while parked, the group's later live messages are diverted to the DLQ behind it, in order;
 *   a diversion is registered (`pending`) before the send and counted (`diverted`) after it;
 * - the redrive tool sends the DLQ's messages back marked (processed even while parked), then a
 *   release marker with the `diverted` count it saw once the DLQ was drained;
 * - the consumer lifts the park when it reaches the marker — after every redriven message before
 *   it in the group was applied — only if nothing was diverted since, no diversion is under way and
 *   no redriven message failed again. Otherwise the park holds and the tool drains again: live
 *   messages that were queued ahead of the redriven ones were diverted behind them, never applied
 *   before them;
 * - a redriven message that fails again records its run (`generations`) and goes, with the run's
 *   later messages of the group, to the DLQ group `generationGroup(group, run)`: the live messages
 *   diverted while they travelled are older in the DLQ but newer in the group, so the next redrive
 *   sends that generation first.
 */
export class ParkedGroups {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private key(group: string) {
    return marshall({ id: `parked#${group}` });
  }

  /** Parks the group (or records another failure on a parked one); `redriveRun`: the failed message was redriven in that run. */
  async park(group: string, reason: string, redriveRun?: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: this.key(group),
        UpdateExpression:
          'SET #group = :group, parkedAt = if_not_exists(parkedAt, :now), reason = if_not_exists(reason, :reason), lastFailureAt = :now, lastReason = :reason, pending = if_not_exists(pending, :empty)' +
          (redriveRun === undefined ? '' : ', failedInRun = :run, generations = list_append(if_not_exists(generations, :none), :runs)') +
          ' ADD diverted :zero',
        ExpressionAttributeNames: { '#group': 'group' },
        ExpressionAttributeValues: marshall({
          ':group': group,
          ':now': this.clock().toISOString(),
          ':reason': reason.slice(0, 500),
          ':zero': 0,
          ':empty': {},
          ...(redriveRun === undefined ? {} : { ':run': redriveRun, ':runs': [redriveRun], ':none': [] }),
        }),
      }),
    );
  }

  /** Registers a diversion if the group is parked; false when it is not (then process normally). */
  async beginDiversion(group: string, messageId: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(group),
          UpdateExpression: 'SET pending.#mid = :now',
          ConditionExpression: 'attribute_exists(id)',
          ExpressionAttributeNames: { '#mid': messageId },
          ExpressionAttributeValues: marshall({ ':now': this.clock().toISOString() }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Counts a diversion whose message is in the DLQ now. Idempotent per message: a retried call counts it once. */
  async endDiversion(group: string, messageId: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(group),
          UpdateExpression: 'REMOVE pending.#mid ADD diverted :one',
          ConditionExpression: 'attribute_exists(pending.#mid)',
          ExpressionAttributeNames: { '#mid': messageId },
          ExpressionAttributeValues: marshall({ ':one': 1 }),
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async get(group: string): Promise<ParkedGroup | undefined> {
    const got = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: this.key(group), ConsistentRead: true }));
    return got.Item ? toParkedGroup(unmarshall(got.Item)) : undefined;
  }

  /**
   * Which of `groups` are parked, and their failed redrive runs: one consistent `BatchGetItem` per 100
   * groups (a FIFO batch has at most 10), instead of one read per group — the check every FIFO batch makes.
   */
  async parkedAmong(groups: readonly string[]): Promise<Map<string, ParkState>> {
    const parked = new Map<string, ParkState>();
    const unique = [...new Set(groups)];
    for (let start = 0; start < unique.length; start += 100) {
      let keys: Record<string, AttributeValue>[] | undefined = unique.slice(start, start + 100).map((group) => this.key(group));
      for (let attempt = 1; keys && keys.length > 0; attempt++) {
        const got: BatchGetItemCommandOutput = await this.client.send(new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true, ProjectionExpression: '#group, generations', ExpressionAttributeNames: { '#group': 'group' } } } }));
        for (const raw of got.Responses?.[this.tableName] ?? []) {
          const item = unmarshall(raw);
          parked.set(String(item.group), { generations: generationsOf(item) });
        }
        keys = got.UnprocessedKeys?.[this.tableName]?.Keys;
        if (keys?.length && attempt >= 10) throw new Error(`could not read ${keys.length} parked-group item(s) after ${attempt} attempts (throttled)`);
        if (keys?.length) await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** attempt));
      }
    }
    return parked;
  }

  /** Every parked group (a Scan: for operators, never on the hot path). */
  async list(): Promise<ParkedGroup[]> {
    const groups: ParkedGroup[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.tableName, FilterExpression: 'begins_with(id, :prefix)', ExpressionAttributeValues: marshall({ ':prefix': 'parked#' }), ExclusiveStartKey: start, ConsistentRead: true }),
      );
      for (const raw of page.Items ?? []) groups.push(toParkedGroup(unmarshall(raw)));
      start = page.LastEvaluatedKey;
    } while (start);
    return groups;
  }

  /**
   * What the consumer does on reaching a release marker (every redriven message before it in the
   * group was applied): lifts the park if nothing was diverted since the tool drained the DLQ, no
   * diversion is under way and no redriven message of the run failed again; otherwise records that it
   * held (`heldAt`), so the tool drains the DLQ again. A marker reached again after its release finds
   * no park and does nothing.
   */
  async reachRelease(marker: ReleaseMarker): Promise<ReleaseOutcome> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: this.key(marker.group),
          ConditionExpression: 'diverted = :diverted AND (attribute_not_exists(pending) OR size(pending) = :zero) AND (attribute_not_exists(failedInRun) OR failedInRun <> :run)',
          ExpressionAttributeValues: marshall({ ':diverted': marker.diverted, ':zero': 0, ':run': marker.runId }),
        }),
      );
      return 'released';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: this.key(marker.group),
          UpdateExpression: 'SET heldAt = :at',
          ConditionExpression: 'attribute_exists(id)',
          ExpressionAttributeValues: marshall({ ':at': `${marker.runId}/${marker.pass}` }),
        }),
      );
      return 'held';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'not-parked';
      throw error;
    }
  }
}

function toParkedGroup(item: Record<string, unknown>): ParkedGroup {
  return {
    group: String(item.group),
    parkedAt: String(item.parkedAt),
    reason: String(item.reason),
    diverted: Number(item.diverted ?? 0),
    pending: (item.pending ?? {}) as Record<string, string>,
    ...(typeof item.failedInRun === 'string' ? { failedInRun: item.failedInRun } : {}),
    ...(typeof item.heldAt === 'string' ? { heldAt: item.heldAt } : {}),
    generations: generationsOf(item),
  };
}

/** The failed runs, oldest first, each once (a retried park appends its run again). */
function generationsOf(item: Record<string, unknown>): string[] {
  return Array.isArray(item.generations) ? [...new Set(item.generations.map(String))] : [];
}
