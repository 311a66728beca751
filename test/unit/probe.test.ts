import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient, QueryCommand, type QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import { BOARD_OPEN_INDEX, OPEN_STAGE_ATTRIBUTE } from '../../functions/coffee/board/board';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProbeRowSchema, type ProbeRow } from '../../functions/coffee/probe/boardRow';
import { DynamoBoardRows } from '../../functions/coffee/probe/BoardRows';
import { evaluateProbe, ORDER_OVERDUE, orderOverdue, OrderOverdueSchema, overdueKey, type ProbeEvaluation } from '../../functions/coffee/probe/probe';
import { PROBE_METRICS, ProbeInputSchema } from '../../functions/coffee/probe/probeConfig';
import { PowertoolsProbeMetrics } from '../../functions/coffee/probe/probeMetrics';
import { OverdueReportFailedError } from '../../functions/coffee/probe/errors';
import { runProbe, type OverdueCommitter } from '../../functions/coffee/probe/runProbe';
import { buildEvent, newEventId, newTraceparent, type EventEnvelope } from '../../functions/toolkit/envelope';
import { ConcurrencyError, type AggregateChange } from '../../functions/toolkit/outbox';

const NOW = new Date('2025-03-01T09:00:00.000Z');
const FIVE_MINUTES = { overdueAfterSeconds: 300 };

/** An ISO time `seconds` before NOW. */
const ago = (seconds: number): string => new Date(NOW.getTime() - seconds * 1000).toISOString();

/** Board rows, one fixture per status, as the board shows them `seconds` after each step. */
const queued = (orderId: string, placedSecondsAgo: number, extra: Partial<ProbeRow> = {}): ProbeRow =>
  ({ orderId, status: 'queued', placedAt: ago(placedSecondsAgo), overdue: false, ...extra });
const brewing = (orderId: string, placedSecondsAgo: number, brewingSecondsAgo: number, extra: Partial<ProbeRow> = {}): ProbeRow =>
  ({ orderId, status: 'brewing', placedAt: ago(placedSecondsAgo), brewingAt: ago(brewingSecondsAgo), overdue: false, ...extra });
const ready = (orderId: string, placedSecondsAgo: number, brewingSecondsAgo: number, readySecondsAgo: number): ProbeRow =>
  ({ orderId, status: 'ready', placedAt: ago(placedSecondsAgo), brewingAt: ago(brewingSecondsAgo), readyAt: ago(readySecondsAgo), overdue: false });
const served = (orderId: string, placedSecondsAgo: number): ProbeRow =>
  ({ orderId, status: 'served', placedAt: ago(placedSecondsAgo), brewingAt: ago(placedSecondsAgo - 10), readyAt: ago(placedSecondsAgo - 20), servedAt: ago(placedSecondsAgo - 30), overdue: false });
const cancelled = (orderId: string, placedSecondsAgo: number): ProbeRow =>
  ({ orderId, status: 'cancelled', placedAt: ago(placedSecondsAgo), cancelledAt: ago(placedSecondsAgo - 5), overdue: false });

describe('evaluateProbe', () => {
  it('given fresh orders in every stage, when probed, then none is overdue', () => {
    // arrange
    const rows = [queued('o-1', 30), brewing('o-2', 120, 60), ready('o-3', 250, 200, 10)];

    // act
    const evaluation = evaluateProbe(rows, NOW, FIVE_MINUTES);

    // assert
    expect(evaluation.overdue).toEqual([]);
    expect(evaluation.overdueOpen).toBe(0);
    expect(evaluation.open).toBe(3);
  });

  it('given an order queued for 6 minutes, when probed, then it is overdue at stage queued', () => {
    // arrange
    const rows = [queued('o-late', 360), queued('o-fresh', 10)];

    // act
    const { overdue, overdueOpen } = evaluateProbe(rows, NOW, FIVE_MINUTES);

    // assert
    expect(overdue).toEqual([{ orderId: 'o-late', stage: 'queued', ageSeconds: 360, waitingSeconds: 360, placedAt: ago(360) }]);
    expect(overdueOpen).toBe(1);
  });

  it('given an order brewing for long, when probed, then it is overdue at stage brewing, aged since brewing started', () => {
    // arrange: placed 7 min ago, brewing for the last 6½
    const rows = [brewing('o-slow-brew', 420, 390)];

    // act
    const { overdue } = evaluateProbe(rows, NOW, FIVE_MINUTES);

    // assert
    expect(overdue).toEqual([{ orderId: 'o-slow-brew', stage: 'brewing', ageSeconds: 390, waitingSeconds: 420, placedAt: ago(420) }]);
  });

  it('given an order ready but not picked up, when probed after the threshold, then it is overdue at stage ready', () => {
    // arrange
    const rows = [ready('o-not-picked-up', 301, 200, 100)];

    // act
    const { overdue } = evaluateProbe(rows, NOW, FIVE_MINUTES);

    // assert
    expect(overdue.map((o) => [o.orderId, o.stage, o.ageSeconds, o.waitingSeconds])).toEqual([['o-not-picked-up', 'ready', 100, 301]]);
  });

  it('given an order that has waited exactly the threshold, when probed, then it is still on time', () => {
    // act
    const { overdue } = evaluateProbe([queued('o-just-in-time', 300)], NOW, FIVE_MINUTES);

    // assert
    expect(overdue).toEqual([]);
  });

  it('given an order half a second past the threshold, when probed, then it is overdue (compared to the millisecond)', () => {
    // act
    const { overdue } = evaluateProbe([queued('o-just-late', 300.5)], NOW, FIVE_MINUTES);

    // assert
    expect(overdue).toEqual([{ orderId: 'o-just-late', stage: 'queued', ageSeconds: 300, waitingSeconds: 300, placedAt: ago(300.5) }]);
  });

  it('given served and cancelled orders placed long ago, when probed, then they are never overdue nor open', () => {
    // arrange
    const rows = [served('o-served', 3600), cancelled('o-cancelled', 3600)];

    // act
    const evaluation = evaluateProbe(rows, NOW, FIVE_MINUTES);

    // assert
    expect(evaluation.overdue).toEqual([]);
    expect(evaluation.overdueOpen).toBe(0);
    expect(evaluation.open).toBe(0);
    expect(evaluation.stageAges).toEqual({ queued: { count: 0, maxSeconds: 0 }, brewing: { count: 0, maxSeconds: 0 }, ready: { count: 0, maxSeconds: 0 } });
  });

  it('given an order the board already shows as overdue, when probed, then it is not reported again but still counted', () => {
    // arrange
    const rows = [queued('o-flagged', 900, { overdue: true }), queued('o-new', 400)];

    // act
    const evaluation = evaluateProbe(rows, NOW, FIVE_MINUTES);

    // assert
    expect(evaluation.overdue.map((o) => o.orderId)).toEqual(['o-new']);
    expect(evaluation.overdueOpen).toBe(2);
    expect(evaluation.stageAges.queued).toEqual({ count: 2, maxSeconds: 900 });
  });

  it('given the same board, when the threshold changes, then what is overdue follows it', () => {
    // arrange
    const rows = [queued('o-1', 20), brewing('o-2', 90, 30)];

    // act
    const strict = evaluateProbe(rows, NOW, { overdueAfterSeconds: 15 });
    const lenient = evaluateProbe(rows, NOW, { overdueAfterSeconds: 60 });

    // assert
    expect(strict.overdue.map((o) => o.orderId)).toEqual(['o-1', 'o-2']);
    expect(lenient.overdue.map((o) => o.orderId)).toEqual(['o-2']);
  });

  it('given orders in every stage, when probed, then each stage reports its count and its oldest age in that stage', () => {
    // arrange
    const rows = [
      queued('q-1', 40),
      queued('q-2', 95),
      brewing('b-1', 200, 150),
      brewing('b-2', 100, 20),
      ready('r-1', 280, 250, 61),
      served('s-1', 5000),
    ];

    // act
    const { stageAges, open } = evaluateProbe(rows, NOW, FIVE_MINUTES);

    // assert
    expect(stageAges).toEqual({ queued: { count: 2, maxSeconds: 95 }, brewing: { count: 2, maxSeconds: 150 }, ready: { count: 1, maxSeconds: 61 } });
    expect(open).toBe(5);
  });

  it('given a row whose placedAt the board has not seen yet, when probed, then the earliest known time stands in for it', () => {
    // arrange: brewing seen, placed not yet (the events come from two services)
    const rows: ProbeRow[] = [{ orderId: 'o-out-of-order', status: 'brewing', brewingAt: ago(400), overdue: false }];

    // act
    const { overdue } = evaluateProbe(rows, NOW, FIVE_MINUTES);

    // assert
    expect(overdue).toEqual([{ orderId: 'o-out-of-order', stage: 'brewing', ageSeconds: 400, waitingSeconds: 400, placedAt: ago(400) }]);
  });

  it('given an open row without any timestamp, when probed, then it is open and listed as undated, not overdue', () => {
    // act
    const evaluation = evaluateProbe([{ orderId: 'o-undated', status: 'queued', overdue: false }], NOW, FIVE_MINUTES);

    // assert
    expect(evaluation).toMatchObject({ open: 1, undated: ['o-undated'], overdue: [], overdueOpen: 0 });
  });

  it('given a clock behind the board, when probed, then ages are never negative', () => {
    // act
    const { stageAges } = evaluateProbe([queued('o-future', -30)], NOW, FIVE_MINUTES);

    // assert
    expect(stageAges.queued).toEqual({ count: 1, maxSeconds: 0 });
  });
});

describe('orderOverdue', () => {
  it('raises a valid coffee.order.overdue v1 whose overdueAt is when the wait passed the threshold', () => {
    // arrange
    const [late] = evaluateProbe([brewing('o-9', 420, 390)], NOW, FIVE_MINUTES).overdue;

    // act
    const event = orderOverdue(late!, FIVE_MINUTES);

    // assert
    expect(event.type).toBe(ORDER_OVERDUE);
    expect(OrderOverdueSchema.parse(event.data)).toEqual({
      orderId: 'o-9',
      stage: 'brewing',
      placedAt: ago(420),
      overdueAt: ago(120),
      waitingSeconds: 420,
      thresholdSeconds: 300,
    });
  });
});

describe('the probe input and the board rows it reads', () => {
  it('takes an optional positive whole overdueAfterSeconds and ignores a scheduled event’s other fields', () => {
    expect(ProbeInputSchema.parse({ overdueAfterSeconds: 2 })).toEqual({ overdueAfterSeconds: 2 });
    expect(ProbeInputSchema.parse({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} })).toEqual({});
    expect(ProbeInputSchema.safeParse({ overdueAfterSeconds: 0 }).success).toBe(false);
    expect(ProbeInputSchema.safeParse({ overdueAfterSeconds: '300' }).success).toBe(false);
    expect(ProbeInputSchema.safeParse({ overdueAfterSeconds: 1.5 }).success).toBe(false);
  });

  it('reads a full contract BoardRow, keeping what the probe needs', () => {
    // arrange
    const boardRow = {
      orderId: 'o-1',
      status: 'brewing',
      summary: '2× large latte',
      totalCents: 950,
      placedAt: ago(60),
      brewingAt: ago(30),
      overdue: false,
      revision: 2,
      lastEvent: { type: 'coffee.brew.started', source: 'coffee.barista', sequence: 1 },
    };

    // act
    const row = ProbeRowSchema.parse(boardRow);

    // assert
    expect(row).toEqual({ orderId: 'o-1', status: 'brewing', placedAt: ago(60), brewingAt: ago(30), overdue: false });
  });
});

describe('DynamoBoardRows', () => {
  /** A client whose Scan answers with `pages`, one per call, and records each request. */
  /** A board table that answers Queries of its open-orders index: per stage, its pages in order. */
  function querying(pagesByStage: Record<string, Record<string, unknown>[][]>) {
    const client = new DynamoDBClient({ region: 'us-east-1' });
    const requests: QueryCommand['input'][] = [];
    vi.spyOn(client, 'send').mockImplementation(async (command: unknown) => {
      if (!(command instanceof QueryCommand)) throw new Error('only Query is expected: the probe never scans the board');
      requests.push({ ...command.input });
      const stage = command.input.ExpressionAttributeValues?.[':value']?.S ?? '';
      const pages = pagesByStage[stage] ?? [[]];
      const index = command.input.ExclusiveStartKey ? Number(command.input.ExclusiveStartKey.pk?.S?.split('-')[1]) + 1 : 0;
      const output: Partial<QueryCommandOutput> = {
        Items: pages[index]!.map((item) => marshall(item, { removeUndefinedValues: true })),
        ...(index < pages.length - 1 ? { LastEvaluatedKey: marshall({ pk: `after-${index}` }) } : {}),
      };
      return output;
    });
    return { client, requests };
  }

  /** A projection item as the projection toolkit stores it. */
  const item = (state: unknown) => ({ pk: (state as { orderId: string }).orderId, state, watermarks: { 'coffee.orders': 1 }, revision: 1, version: 1 });

  it('reads the open orders of each stage from the open-orders index, every page, and reports a row it cannot read by key only, reading the others', async () => {
    // arrange
    const { client, requests } = querying({
      queued: [[item(queued('o-1', 10)), item({ orderId: 'o-bad', status: 'lost', overdue: false })], [item(queued('o-3', 5))]],
      brewing: [[item(brewing('o-2', 50, 20))]],
    });
    const unreadable: [string, string[]][] = [];
    const rows = new DynamoBoardRows({ dynamodb: client, tableName: 'board', onUnreadable: (key, problems) => unreadable.push([key, problems]) });

    // act
    const listed = await rows.list();

    // assert
    expect(listed.map((row) => row.orderId)).toEqual(['o-1', 'o-3', 'o-2']);
    expect(unreadable).toEqual([['o-bad', ['status']]]);
    expect(requests.map((r) => [r.IndexName, r.ExpressionAttributeNames?.['#attribute'], r.ExpressionAttributeValues?.[':value']?.S, r.ExclusiveStartKey?.pk?.S])).toEqual([
      [BOARD_OPEN_INDEX, OPEN_STAGE_ATTRIBUTE, 'queued', undefined],
      [BOARD_OPEN_INDEX, OPEN_STAGE_ATTRIBUTE, 'queued', 'after-0'],
      [BOARD_OPEN_INDEX, OPEN_STAGE_ATTRIBUTE, 'brewing', undefined],
      [BOARD_OPEN_INDEX, OPEN_STAGE_ATTRIBUTE, 'ready', undefined],
    ]);
    expect(requests.every((r) => r.TableName === 'board')).toBe(true);
  });
});

/** An outbox in memory that, like the real one, accepts each `OVERDUE#…` key once (version 0). */
class InMemoryOverdueOutbox implements OverdueCommitter {
  readonly committed = new Map<string, EventEnvelope>();
  failFor = new Set<string>();

  async commit(changes: readonly AggregateChange[]): Promise<EventEnvelope[]> {
    const [change] = changes;
    if (!change || changes.length !== 1 || change.events.length !== 1) throw new Error('one change with one event expected');
    if (this.failFor.has(change.id)) throw new Error('ProvisionedThroughputExceededException');
    const key = JSON.stringify(change.key);
    if (this.committed.has(key)) throw new ConcurrencyError(change.id, change.expectedVersion, 1);
    const [newEvent] = change.events;
    const event = buildEvent({ id: newEventId(), source: 'coffee.probe', type: newEvent!.type, subject: change.id, sequence: change.expectedVersion + 1, time: NOW, traceparent: newTraceparent(), data: newEvent!.data });
    this.committed.set(key, event);
    return [event];
  }
}

const fixedRows = (rows: ProbeRow[]) => ({ list: async () => rows });
const noMetrics = { publish: () => undefined };

describe('runProbe', () => {
  it('given one late and one fresh order, when run, then it commits one coffee.order.overdue for the late one under its OVERDUE key', async () => {
    // arrange
    const outbox = new InMemoryOverdueOutbox();

    // act
    const report = await runProbe({ rows: fixedRows([queued('o-late', 400), queued('o-fresh', 5)]), outbox, metrics: noMetrics }, NOW, FIVE_MINUTES);

    // assert
    const event = outbox.committed.get(JSON.stringify(overdueKey('o-late')));
    expect(event).toMatchObject({ type: ORDER_OVERDUE, subject: 'o-late', partitionkey: 'o-late', data: { orderId: 'o-late', stage: 'queued', waitingSeconds: 400 } });
    expect(report.committed).toEqual([{ orderId: 'o-late', eventId: event!.id }]);
    expect(report).toMatchObject({ thresholdSeconds: 300, evaluatedAt: NOW.toISOString(), open: 2, overdueOpen: 1, alreadyReported: [] });
  });

  it('given the probe runs twice before the board flags the order, when run again, then the order is reported once', async () => {
    // arrange
    const outbox = new InMemoryOverdueOutbox();
    const deps = { rows: fixedRows([brewing('o-stuck', 600, 500)]), outbox, metrics: noMetrics };
    await runProbe(deps, NOW, FIVE_MINUTES);

    // act
    const second = await runProbe(deps, new Date(NOW.getTime() + 60_000), FIVE_MINUTES);

    // assert
    expect(outbox.committed.size).toBe(1);
    expect(second.committed).toEqual([]);
    expect(second.alreadyReported).toEqual(['o-stuck']);
  });

  it('given an infrastructure error for one order, when run, then the others are reported and the run fails naming it', async () => {
    // arrange
    const outbox = new InMemoryOverdueOutbox();
    outbox.failFor.add('o-2');
    const rows = fixedRows([queued('o-1', 400), queued('o-2', 400), queued('o-3', 400)]);

    // act
    const run = runProbe({ rows, outbox, metrics: noMetrics }, NOW, FIVE_MINUTES);

    // assert
    await expect(run).rejects.toThrow(OverdueReportFailedError);
    await expect(run).rejects.toMatchObject({ orderIds: ['o-2'] });
    expect([...outbox.committed.values()].map((e) => e.subject).sort()).toEqual(['o-1', 'o-3']);
  });

  it('publishes the evaluation as metrics, also when nothing is overdue', async () => {
    // arrange
    const published: ProbeEvaluation[] = [];

    // act
    await runProbe({ rows: fixedRows([queued('o-1', 10)]), outbox: new InMemoryOverdueOutbox(), metrics: { publish: (e) => published.push(e) } }, NOW, FIVE_MINUTES);

    // assert
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ open: 1, overdueOpen: 0 });
  });
});

describe('PowertoolsProbeMetrics', () => {
  afterEach(() => vi.restoreAllMocks());

  /** The EMF documents Powertools writes, parsed. */
  function emfWrittenBy(act: () => void): Record<string, unknown>[] {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
    act();
    return lines.flatMap((line) => line.split('\n')).filter((line) => line.includes('"_aws"')).map((line) => JSON.parse(line));
  }

  it('writes OverdueOrders and OpenOrders by service, and StageAgeMax by service and Stage', () => {
    // arrange
    const evaluation = evaluateProbe([queued('q', 400, { overdue: true }), brewing('b', 100, 70), queued('q2', 12)], NOW, FIVE_MINUTES);
    const sink = new PowertoolsProbeMetrics(new Metrics({ namespace: PROBE_METRICS.namespace, serviceName: PROBE_METRICS.service }));

    // act
    const documents = emfWrittenBy(() => sink.publish(evaluation));

    // assert
    const metricsOf = (doc: Record<string, unknown>) => {
      const [directive] = (doc._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics;
      return { namespace: directive!.Namespace, dimensions: directive!.Dimensions, names: directive!.Metrics.map((m) => m.Name) };
    };
    expect(documents).toHaveLength(4);
    expect(metricsOf(documents[0]!)).toEqual({ namespace: 'CoffeeShop', dimensions: [['service']], names: ['OverdueOrders', 'OpenOrders'] });
    expect(documents[0]).toMatchObject({ service: 'coffee-probe', OverdueOrders: 1, OpenOrders: 3 });
    const stageDocs = documents.slice(1);
    for (const doc of stageDocs) expect(metricsOf(doc)).toEqual({ namespace: 'CoffeeShop', dimensions: [['service', 'Stage']], names: ['StageAgeMax'] });
    expect(stageDocs.map((doc) => [doc.Stage, doc.StageAgeMax])).toEqual([['queued', 400], ['brewing', 70], ['ready', 0]]);
  });
});
