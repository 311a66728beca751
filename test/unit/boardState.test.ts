import { describe, expect, it } from 'vitest';
import {
  applyRow,
  backoffMs,
  CANCELLED_SHOWN,
  columns,
  counts,
  emptyBoard,
  formatDuration,
  medianTimeToServeMs,
  mergeSnapshot,
  parsePush,
  parseRow,
  parseSnapshot,
  SERVED_SHOWN,
  ticket,
  waitMs,
  type Board,
  type BoardRow,
} from '../../web/board/boardState.js';

const T0 = Date.parse('2026-11-23T08:00:00.000Z');
const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

/** A board row; `placed` etc. are seconds after T0. */
function row(orderId: string, status: BoardRow['status'], revision: number, times: { placed?: number; brewing?: number; ready?: number; served?: number; cancelled?: number } = {}, overdue = false): BoardRow {
  const { placed = 0, brewing, ready, served, cancelled } = times;
  return {
    orderId,
    status,
    summary: '1× medium latte',
    totalCents: 380,
    placedAt: at(placed),
    ...(brewing !== undefined ? { brewingAt: at(brewing) } : {}),
    ...(ready !== undefined ? { readyAt: at(ready) } : {}),
    ...(served !== undefined ? { servedAt: at(served) } : {}),
    ...(cancelled !== undefined ? { cancelledAt: at(cancelled) } : {}),
    overdue,
    revision,
    lastEvent: { type: 'coffee.order.placed', source: 'coffee.orders', sequence: revision },
  };
}

const boardOf = (...rows: BoardRow[]): Board => mergeSnapshot(emptyBoard(), rows).board;
const ids = (rows: BoardRow[]): string[] => rows.map((r) => r.orderId);

describe('applyRow', () => {
  it('shows a row it has not seen', () => {
    // arrange
    const board = emptyBoard();

    // act
    const result = applyRow(board, row('o-1', 'queued', 1));

    // assert
    expect(result.applied).toBe(true);
    expect(result.board.rows.get('o-1')?.status).toBe('queued');
  });

  it('replaces the row shown with one of a greater revision', () => {
    // arrange
    const board = boardOf(row('o-1', 'queued', 1));

    // act
    const result = applyRow(board, row('o-1', 'brewing', 2, { brewing: 30 }));

    // assert
    expect(result.applied).toBe(true);
    expect(result.previous?.status).toBe('queued');
    expect(result.board.rows.get('o-1')?.status).toBe('brewing');
  });

  it('ignores an older revision that arrives late', () => {
    // arrange
    const board = boardOf(row('o-1', 'ready', 3, { brewing: 30, ready: 90 }));

    // act
    const result = applyRow(board, row('o-1', 'brewing', 2, { brewing: 30 }));

    // assert
    expect(result.applied).toBe(false);
    expect(result.board).toBe(board);
    expect(board.rows.get('o-1')?.status).toBe('ready');
  });

  it('ignores a duplicate (same revision), even if its content differs', () => {
    // arrange
    const board = boardOf(row('o-1', 'brewing', 2, { brewing: 30 }));

    // act
    const result = applyRow(board, row('o-1', 'cancelled', 2, { cancelled: 30 }));

    // assert
    expect(result.applied).toBe(false);
    expect(result.board.rows.get('o-1')?.status).toBe('brewing');
  });

  it('never changes the board it was given', () => {
    // arrange
    const board = boardOf(row('o-1', 'queued', 1));

    // act
    applyRow(board, row('o-1', 'brewing', 2));

    // assert
    expect(board.rows.get('o-1')?.status).toBe('queued');
  });
});

describe('mergeSnapshot', () => {
  it('takes the newer rows of a snapshot and never regresses a row a push already moved on', () => {
    // arrange: a push moved o-1 to ready after the snapshot was read
    const board = boardOf(row('o-1', 'ready', 3, { brewing: 30, ready: 90 }), row('o-2', 'queued', 1));

    // act
    const { board: merged, changed } = mergeSnapshot(board, [
      row('o-1', 'brewing', 2, { brewing: 30 }), // older than shown
      row('o-2', 'brewing', 2, { brewing: 40 }), // newer than shown
      row('o-3', 'queued', 1, { placed: 50 }), // not shown yet
    ]);

    // assert
    expect(changed.sort()).toEqual(['o-2', 'o-3']);
    expect(merged.rows.get('o-1')?.status).toBe('ready');
    expect(merged.rows.get('o-2')?.status).toBe('brewing');
    expect(merged.rows.get('o-3')?.status).toBe('queued');
  });

  it('keeps rows the snapshot does not mention', () => {
    // arrange
    const board = boardOf(row('o-1', 'queued', 1));

    // act
    const { board: merged, changed } = mergeSnapshot(board, []);

    // assert
    expect(changed).toEqual([]);
    expect(merged.rows.has('o-1')).toBe(true);
  });

  it('gives the same board whatever order the same rows arrive in, duplicates included', () => {
    // arrange
    const history = [row('o-1', 'queued', 1), row('o-1', 'brewing', 2, { brewing: 10 }), row('o-1', 'ready', 3, { brewing: 10, ready: 20 }), row('o-2', 'queued', 1)];
    const shuffled = [history[2]!, history[0]!, history[3]!, history[2]!, history[1]!, history[0]!];

    // act
    const inOrder = mergeSnapshot(emptyBoard(), history).board;
    const outOfOrder = mergeSnapshot(emptyBoard(), shuffled).board;

    // assert
    expect([...outOfOrder.rows.entries()].sort()).toEqual([...inOrder.rows.entries()].sort());
    expect(outOfOrder.rows.get('o-1')?.revision).toBe(3);
  });
});

describe('columns and counts', () => {
  it('puts each row in its status column: waiting orders oldest first, served and cancelled newest first', () => {
    // arrange
    const board = boardOf(
      row('q-late', 'queued', 1, { placed: 60 }),
      row('q-early', 'queued', 1, { placed: 10 }),
      row('b-1', 'brewing', 2, { placed: 0, brewing: 20 }),
      row('r-1', 'ready', 3, { brewing: 5, ready: 50 }),
      row('s-old', 'served', 4, { served: 100 }),
      row('s-new', 'served', 4, { served: 200 }),
      row('c-1', 'cancelled', 2, { cancelled: 30 }),
    );

    // act
    const shown = columns(board);

    // assert
    expect(ids(shown.queued)).toEqual(['q-early', 'q-late']);
    expect(ids(shown.brewing)).toEqual(['b-1']);
    expect(ids(shown.ready)).toEqual(['r-1']);
    expect(ids(shown.served)).toEqual(['s-new', 's-old']);
    expect(ids(shown.cancelled)).toEqual(['c-1']);
  });

  it('shows only the latest served and cancelled orders but counts them all', () => {
    // arrange
    const served = Array.from({ length: SERVED_SHOWN + 3 }, (_, i) => row(`s-${i}`, 'served', 4, { served: 100 + i }));
    const cancelled = Array.from({ length: CANCELLED_SHOWN + 2 }, (_, i) => row(`c-${i}`, 'cancelled', 2, { cancelled: 100 + i }));
    const board = boardOf(...served, ...cancelled);

    // act
    const shown = columns(board);
    const n = counts(board);

    // assert
    expect(shown.served).toHaveLength(SERVED_SHOWN);
    expect(shown.served[0]?.orderId).toBe(`s-${SERVED_SHOWN + 2}`);
    expect(shown.cancelled).toHaveLength(CANCELLED_SHOWN);
    expect(n.served).toBe(SERVED_SHOWN + 3);
    expect(n.cancelled).toBe(CANCELLED_SHOWN + 2);
  });

  it('counts orders per status and the overdue ones still waiting', () => {
    // arrange
    const board = boardOf(
      row('q-1', 'queued', 1, {}, true),
      row('q-2', 'queued', 1),
      row('b-1', 'brewing', 2, { brewing: 5 }, true),
      row('s-1', 'served', 4, { served: 400 }, true), // served late: no longer overdue on the board
    );

    // act
    const n = counts(board);

    // assert
    expect(n).toEqual({ queued: 2, brewing: 1, ready: 0, served: 1, cancelled: 0, overdue: 2 });
  });
});

describe('wait times', () => {
  it('ticks while the order waits and stops when it is served', () => {
    // arrange
    const waiting = row('o-1', 'brewing', 2, { placed: 0, brewing: 30 });
    const served = row('o-2', 'served', 4, { placed: 0, served: 195 });

    // act + assert
    expect(waitMs(waiting, T0 + 80_000)).toBe(80_000);
    expect(formatDuration(waitMs(waiting, T0 + 80_000)!)).toBe('1m 20s');
    expect(waitMs(served, T0 + 999_000)).toBe(195_000);
    expect(waitMs(row('o-3', 'cancelled', 2, { cancelled: 10 }), T0 + 50_000)).toBeUndefined();
  });

  it('gives the median time to serve over the served orders', () => {
    // arrange
    const odd = boardOf(row('a', 'served', 4, { served: 60 }), row('b', 'served', 4, { served: 300 }), row('c', 'served', 4, { served: 120 }), row('d', 'queued', 1));
    const even = boardOf(row('a', 'served', 4, { served: 60 }), row('b', 'served', 4, { served: 180 }));

    // act + assert
    expect(medianTimeToServeMs(odd)).toBe(120_000);
    expect(medianTimeToServeMs(even)).toBe(120_000);
    expect(medianTimeToServeMs(boardOf(row('d', 'queued', 1)))).toBeUndefined();
  });

  it('formats durations the way a barista says them', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(45_900)).toBe('45s');
    expect(formatDuration(80_000)).toBe('1m 20s');
    expect(formatDuration(605_000)).toBe('10m 05s');
    expect(formatDuration(3_900_000)).toBe('1h 05m');
  });
});

describe('messages from the network', () => {
  it('accepts a board.row push and rejects anything else', () => {
    // arrange
    const valid = row('o-1', 'queued', 1);

    // act + assert
    expect(parsePush(JSON.stringify({ kind: 'board.row', row: valid }))).toEqual(valid);
    expect(parsePush(JSON.stringify({ kind: 'something.else', row: valid }))).toBeNull();
    expect(parsePush(JSON.stringify({ kind: 'board.row', row: { ...valid, status: 'lost' } }))).toBeNull();
    expect(parsePush(JSON.stringify({ kind: 'board.row', row: { ...valid, revision: -1 } }))).toBeNull();
    expect(parsePush(JSON.stringify({ kind: 'board.row', row: { ...valid, placedAt: 'yesterday' } }))).toBeNull();
    expect(parsePush('{not json')).toBeNull();
  });

  it('keeps only the contract fields of a row', () => {
    // act
    const parsed = parseRow({ ...row('o-1', 'queued', 1), customerEmail: 'ada@example.com' });

    // assert
    expect(parsed).not.toHaveProperty('customerEmail');
  });

  it('takes the valid rows of a snapshot and counts the rest', () => {
    // act
    const snapshot = parseSnapshot({ rows: [row('o-1', 'queued', 1), { orderId: 'o-2' }] });

    // assert
    expect(snapshot).toEqual({ rows: [row('o-1', 'queued', 1)], rejected: 1 });
    expect(parseSnapshot({ items: [] })).toBeNull();
  });
});

describe('presentation helpers', () => {
  it('calls an order by the last four letters or digits of its id', () => {
    expect(ticket('order-7f3a')).toBe('7F3A');
    expect(ticket('0193b1c2-7d3e-7abc-9def-0123456789ab')).toBe('89AB');
  });

  it('backs off exponentially up to a cap, with jitter', () => {
    expect(backoffMs(0, 0)).toBe(250);
    expect(backoffMs(0, 0.999)).toBeLessThanOrEqual(500);
    expect(backoffMs(3, 0)).toBe(2000);
    expect(backoffMs(20, 0.999)).toBeLessThanOrEqual(10_000);
    expect(backoffMs(20, 0)).toBe(5000);
  });
});
