import { defineProjection } from '../../toolkit/projection';
import { applyToBoard, boardAttributes, BOARD_EVENTS, emptyBoardRow, type BoardEvent } from './board';

/**
 * The order board (CQRS read model): one row per order, built from every service's events off the
 * bus. Duplicates are skipped and a delivery ahead of its row is caught up from the source's log,
 * so neither duplicates nor reordering corrupt it; its table's stream feeds the live page.
 */
export const handler = defineProjection({
  events: BOARD_EVENTS,
  initial: emptyBoardRow,
  apply: (row, event) => applyToBoard(row, event as BoardEvent),
  // An open order's stage (the probe's index) and a closed one's expiry (a day after it closed).
  attributes: boardAttributes,
});
