import * as z from 'zod';
import type { RowAttributes } from '../../toolkit/projection/projectionItem';
import { ORDER_CANCELLED, OrderCancelledSchema } from '../orders/cancelOrder';
import { ORDER_PLACED, OrderPlacedSchema, summarize } from '../orders/placeOrder';
import { BREW_FINISHED, BREW_STARTED, BrewFinishedSchema, BrewStartedSchema } from '../barista/ticket';
import { ORDER_SERVED, OrderServedSchema } from '../counter/pickup';
import { ORDER_OVERDUE, OrderOverdueSchema } from '../probe/probe';

export const BOARD_STATUSES = ['queued', 'brewing', 'ready', 'served', 'cancelled'] as const;
export type BoardStatus = (typeof BOARD_STATUSES)[number];

/** One order on the board, as the query API and the live channel show it (plus the row's `revision`). */
export interface BoardState {
  readonly orderId: string;
  readonly status: BoardStatus;
  readonly summary: string;
  readonly totalCents: number;
  readonly placedAt?: string;
  readonly brewingAt?: string;
  readonly readyAt?: string;
  readonly servedAt?: string;
  readonly cancelledAt?: string;
  readonly overdue: boolean;
  readonly lastEvent?: { readonly type: string; readonly source: string; readonly sequence: number };
}

/** The events the board is built from: every service's, each validated with its own schema. */
export const BOARD_EVENTS = {
  [ORDER_PLACED]: OrderPlacedSchema,
  [ORDER_CANCELLED]: OrderCancelledSchema,
  [BREW_STARTED]: BrewStartedSchema,
  [BREW_FINISHED]: BrewFinishedSchema,
  [ORDER_SERVED]: OrderServedSchema,
  [ORDER_OVERDUE]: OrderOverdueSchema,
} as const;

export type BoardEvent = {
  [T in keyof typeof BOARD_EVENTS]: { readonly type: T; readonly source: string; readonly sequence: number | string; readonly data: z.infer<(typeof BOARD_EVENTS)[T]> };
}[keyof typeof BOARD_EVENTS];

export const emptyBoardRow = (orderId: string): BoardState => ({ orderId, status: 'queued', summary: '', totalCents: 0, overdue: false });

/** Where an order is: a cancellation is final; otherwise the furthest stage reached. */
export function boardStatus(row: Omit<BoardState, 'status'>): BoardStatus {
  if (row.cancelledAt) return 'cancelled';
  if (row.servedAt) return 'served';
  if (row.readyAt) return 'ready';
  if (row.brewingAt) return 'brewing';
  return 'queued';
}

/**
 * Applies one event to an order's board row. Pure, and commutative across services: each event only
 * fills in its own stage's time (the first one wins), and the status is derived from what is known,
 * so events of different services may arrive in any order and give the same row.
 */
export function applyToBoard(row: BoardState, event: BoardEvent): BoardState {
  const next: Omit<BoardState, 'status'> = { ...row, ...fieldsOf(row, event), lastEvent: { type: event.type, source: event.source, sequence: Number(event.sequence) } };
  return { ...next, status: boardStatus(next) };
}

function fieldsOf(row: BoardState, event: BoardEvent): Partial<BoardState> {
  switch (event.type) {
    case ORDER_PLACED:
      return { summary: summarize(event.data.lines), totalCents: event.data.totalCents, placedAt: row.placedAt ?? event.data.placedAt };
    case ORDER_CANCELLED:
      return { cancelledAt: row.cancelledAt ?? event.data.cancelledAt };
    case BREW_STARTED:
      return { brewingAt: row.brewingAt ?? event.data.startedAt };
    case BREW_FINISHED:
      return { brewingAt: row.brewingAt ?? event.data.startedAt, readyAt: row.readyAt ?? event.data.finishedAt };
    case ORDER_SERVED:
      return { servedAt: row.servedAt ?? event.data.servedAt };
    case ORDER_OVERDUE:
      return { overdue: true };
  }
}

/** The board table's sparse index of open orders by stage: what the business probe queries. */
export const BOARD_OPEN_INDEX = 'OpenByStage';
/** A row's stage while the order is open (queued, brewing or ready); absent once it is served or cancelled. */
export const OPEN_STAGE_ATTRIBUTE = 'openStage';
/** When a closed row expires (epoch seconds; the table's time to live). */
export const BOARD_EXPIRES_AT = 'expiresAt';
/** How long a served or cancelled order stays on the board after it closed. */
export const CLOSED_ROW_RETENTION_SECONDS = 24 * 60 * 60;

/**
 * What the board table keeps at the top of a row, besides its state: an open order's stage (so it is
 * in the open-orders index, and leaves it when it closes) and a closed order's expiry (a day after it
 * was served or cancelled). Pure: from the row alone, no clock.
 */
export function boardAttributes(row: BoardState): RowAttributes {
  const closedAt = row.status === 'served' ? row.servedAt : row.status === 'cancelled' ? row.cancelledAt : undefined;
  const closedSeconds = closedAt === undefined ? Number.NaN : Math.floor(Date.parse(closedAt) / 1000);
  return {
    [OPEN_STAGE_ATTRIBUTE]: row.status === 'served' || row.status === 'cancelled' ? undefined : row.status,
    [BOARD_EXPIRES_AT]: Number.isFinite(closedSeconds) ? closedSeconds + CLOSED_ROW_RETENTION_SECONDS : undefined,
  };
}
