// The order board's state, as pure functions: no DOM, no clock, no network. The page (board.js) and
// the unit tests (test/unit/boardState.test.ts) both import this module; types are in boardState.d.ts.
//
// The one rule that keeps the board right whatever the push channel does (duplicates, reordering, a
// reconnect that missed messages): a row replaces the one shown only if its `revision` is greater.
// Pushes and snapshots (GET /board after every (re)connect) go through that same rule, so a snapshot
// taken before a push can never move a card back.

export const STATUSES = /** @type {const} */ (['queued', 'brewing', 'ready', 'served', 'cancelled']);

/** How many served / cancelled orders the board keeps on screen (newest first). */
export const SERVED_SHOWN = 12;
export const CANCELLED_SHOWN = 8;

const isString = (v) => typeof v === 'string';
const isOptionalTime = (v) => v === undefined || (isString(v) && !Number.isNaN(Date.parse(v)));
const isCount = (v) => Number.isSafeInteger(v) && v >= 0;

/**
 * Checks a value from the network against the BoardRow contract; returns a clean copy or `null`.
 * (The page has no build step, so no zod here: this is the boundary check.)
 */
export function parseRow(value) {
  if (typeof value !== 'object' || value === null) return null;
  const r = value;
  if (!isString(r.orderId) || r.orderId.length === 0) return null;
  if (!STATUSES.includes(r.status)) return null;
  if (!isString(r.summary) || !isCount(r.totalCents) || typeof r.overdue !== 'boolean' || !isCount(r.revision)) return null;
  for (const key of ['placedAt', 'brewingAt', 'readyAt', 'servedAt', 'cancelledAt']) if (!isOptionalTime(r[key])) return null;
  const e = r.lastEvent;
  if (typeof e !== 'object' || e === null || !isString(e.type) || !isString(e.source) || !isCount(e.sequence)) return null;
  /** @type {import('./boardState').BoardRow} */
  const row = {
    orderId: r.orderId,
    status: r.status,
    summary: r.summary,
    totalCents: r.totalCents,
    overdue: r.overdue,
    revision: r.revision,
    lastEvent: { type: e.type, source: e.source, sequence: e.sequence },
  };
  for (const key of ['placedAt', 'brewingAt', 'readyAt', 'servedAt', 'cancelledAt']) if (r[key] !== undefined) row[key] = r[key];
  return row;
}

/** A push from the live channel: `{"kind":"board.row","row":BoardRow}` → the row, or `null` if it is anything else. */
export function parsePush(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof message !== 'object' || message === null || message.kind !== 'board.row') return null;
  return parseRow(message.row);
}

/** The answer of GET /board: `{ rows: BoardRow[] }` → the valid rows (invalid ones are counted, not shown). */
export function parseSnapshot(value) {
  if (typeof value !== 'object' || value === null || !Array.isArray(value.rows)) return null;
  const rows = [];
  let rejected = 0;
  for (const candidate of value.rows) {
    const row = parseRow(candidate);
    if (row) rows.push(row);
    else rejected++;
  }
  return { rows, rejected };
}

export function emptyBoard() {
  return { rows: new Map() };
}

/** Applies one row if it is newer than the one shown. Never mutates `board`. */
export function applyRow(board, row) {
  const shown = board.rows.get(row.orderId);
  if (shown && shown.revision >= row.revision) return { board, applied: false, previous: shown };
  const rows = new Map(board.rows);
  rows.set(row.orderId, row);
  return { board: { rows }, applied: true, previous: shown };
}

/**
 * Merges a snapshot with the same rule as pushes: every row newer than the one shown replaces it;
 * older or equal ones are ignored; rows the snapshot does not mention stay (a push may be newer than
 * the snapshot's read). Returns the ids whose row changed.
 */
export function mergeSnapshot(board, rows) {
  let next = board;
  const changed = [];
  for (const row of rows) {
    const result = applyRow(next, row);
    if (result.applied) {
      next = result.board;
      changed.push(row.orderId);
    }
  }
  return { board: next, changed };
}

const time = (iso) => (iso === undefined ? undefined : Date.parse(iso));

/** When the row entered its current column (falls back to when it was placed). */
export function enteredAt(row) {
  const at = { queued: row.placedAt, brewing: row.brewingAt, ready: row.readyAt, served: row.servedAt, cancelled: row.cancelledAt }[row.status];
  return time(at ?? row.placedAt);
}

/** How long the customer has waited: placed → served (fixed once served), placed → now before that. */
export function waitMs(row, nowMs) {
  const placed = time(row.placedAt);
  if (placed === undefined || row.status === 'cancelled') return undefined;
  const end = row.status === 'served' ? (time(row.servedAt) ?? nowMs) : nowMs;
  return Math.max(0, end - placed);
}

/** The columns as the page shows them: waiting orders oldest first, served and cancelled newest first. */
export function columns(board) {
  /** @type {Record<import('./boardState').Status, import('./boardState').BoardRow[]>} */
  const byStatus = { queued: [], brewing: [], ready: [], served: [], cancelled: [] };
  for (const row of board.rows.values()) byStatus[row.status].push(row);
  const key = (row) => enteredAt(row) ?? Number.POSITIVE_INFINITY;
  const oldestFirst = (a, b) => key(a) - key(b) || a.orderId.localeCompare(b.orderId);
  const newestFirst = (a, b) => -oldestFirst(a, b);
  byStatus.queued.sort(oldestFirst);
  byStatus.brewing.sort(oldestFirst);
  byStatus.ready.sort(oldestFirst);
  byStatus.served = byStatus.served.sort(newestFirst).slice(0, SERVED_SHOWN);
  byStatus.cancelled = byStatus.cancelled.sort(newestFirst).slice(0, CANCELLED_SHOWN);
  return byStatus;
}

/** How many orders are in each status (all of them, not only those shown) and how many are overdue. */
export function counts(board) {
  const result = { queued: 0, brewing: 0, ready: 0, served: 0, cancelled: 0, overdue: 0 };
  for (const row of board.rows.values()) {
    result[row.status]++;
    if (row.overdue && row.status !== 'served' && row.status !== 'cancelled') result.overdue++;
  }
  return result;
}

/** The median time from placed to served over the served orders on the board, or `undefined`. */
export function medianTimeToServeMs(board) {
  const durations = [];
  for (const row of board.rows.values()) {
    if (row.status !== 'served') continue;
    const placed = time(row.placedAt);
    const served = time(row.servedAt);
    if (placed !== undefined && served !== undefined && served >= placed) durations.push(served - placed);
  }
  if (durations.length === 0) return undefined;
  durations.sort((a, b) => a - b);
  const middle = Math.floor(durations.length / 2);
  return durations.length % 2 === 1 ? durations[middle] : Math.round((durations[middle - 1] + durations[middle]) / 2);
}

/** "45s", "1m 20s", "1h 05m". */
export function formatDuration(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** The short number a barista calls out: the last four letters or digits of the order id. */
export function ticket(orderId) {
  const alnum = orderId.replace(/[^0-9a-z]/gi, '');
  return (alnum.slice(-4) || orderId.slice(-4)).toUpperCase();
}

/** Reconnect delay: capped exponential backoff with jitter (`random` in [0, 1)). */
export function backoffMs(attempt, random, { initialMs = 500, maxMs = 10_000 } = {}) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}
