// Types of boardState.js (the page is plain JavaScript without a build step; the tests are TypeScript).
// Keep in step with boardState.js and with the BoardRow of the coffee shop's HTTP API.

export type Status = 'queued' | 'brewing' | 'ready' | 'served' | 'cancelled';

export interface BoardRow {
  orderId: string;
  status: Status;
  /** e.g. "2× large latte" */
  summary: string;
  totalCents: number;
  placedAt?: string;
  brewingAt?: string;
  readyAt?: string;
  servedAt?: string;
  cancelledAt?: string;
  overdue: boolean;
  /** Strictly increases with every change of this row. */
  revision: number;
  lastEvent: { type: string; source: string; sequence: number };
}

export interface Board {
  readonly rows: ReadonlyMap<string, BoardRow>;
}

export type Counts = Record<Status | 'overdue', number>;

export declare const STATUSES: readonly Status[];
export declare const SERVED_SHOWN: number;
export declare const CANCELLED_SHOWN: number;

export declare function parseRow(value: unknown): BoardRow | null;
export declare function parsePush(text: string): BoardRow | null;
export declare function parseSnapshot(value: unknown): { rows: BoardRow[]; rejected: number } | null;
export declare function emptyBoard(): Board;
export declare function applyRow(board: Board, row: BoardRow): { board: Board; applied: boolean; previous: BoardRow | undefined };
export declare function mergeSnapshot(board: Board, rows: readonly BoardRow[]): { board: Board; changed: string[] };
export declare function enteredAt(row: BoardRow): number | undefined;
export declare function waitMs(row: BoardRow, nowMs: number): number | undefined;
export declare function columns(board: Board): Record<Status, BoardRow[]>;
export declare function counts(board: Board): Counts;
export declare function medianTimeToServeMs(board: Board): number | undefined;
export declare function formatDuration(ms: number): string;
export declare function ticket(orderId: string): string;
export declare function backoffMs(attempt: number, random: number, options?: { initialMs?: number; maxMs?: number }): number;
