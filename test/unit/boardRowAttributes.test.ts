import { describe, expect, it } from 'vitest';
import { applyToBoard, boardAttributes, BOARD_EXPIRES_AT, CLOSED_ROW_RETENTION_SECONDS, emptyBoardRow, OPEN_STAGE_ATTRIBUTE, type BoardEvent } from '../../functions/coffee/board/board';
import { toItem } from '../../functions/toolkit/projection/projectionItem';
import { InvalidProjectionRowError } from '../../functions/toolkit/projection/errors';

const T0 = '2026-12-07T10:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();
const event = (type: BoardEvent['type'], data: Record<string, unknown>, sequence = 1) => ({ type, source: 'coffee.test', sequence, data }) as BoardEvent;
const placed = event('coffee.order.placed', { orderId: 'o-1', lines: [{ product: 'latte', size: 'medium', quantity: 1, priceCents: 380 }], totalCents: 380, placedAt: T0 });

describe('the board row’s top-level attributes: the open-orders index and the expiry', () => {
  it('keeps an order in the open-orders index under its stage while it is open, and takes it out, with an expiry a day later, once it is served', () => {
    // arrange: an order's life on the board
    let row = applyToBoard(emptyBoardRow('o-1'), placed);
    const stages = [boardAttributes(row)];
    row = applyToBoard(row, event('coffee.brew.started', { orderId: 'o-1', startedAt: at(60) }));
    stages.push(boardAttributes(row));
    row = applyToBoard(row, event('coffee.brew.finished', { orderId: 'o-1', startedAt: at(60), finishedAt: at(120) }));
    stages.push(boardAttributes(row));
    row = applyToBoard(row, event('coffee.order.served', { orderId: 'o-1', servedAt: at(180) }));
    stages.push(boardAttributes(row));

    // assert
    expect(stages).toEqual([
      { [OPEN_STAGE_ATTRIBUTE]: 'queued', [BOARD_EXPIRES_AT]: undefined },
      { [OPEN_STAGE_ATTRIBUTE]: 'brewing', [BOARD_EXPIRES_AT]: undefined },
      { [OPEN_STAGE_ATTRIBUTE]: 'ready', [BOARD_EXPIRES_AT]: undefined },
      { [OPEN_STAGE_ATTRIBUTE]: undefined, [BOARD_EXPIRES_AT]: Date.parse(at(180)) / 1000 + CLOSED_ROW_RETENTION_SECONDS },
    ]);
  });

  it('expires a cancelled order a day after its cancellation, and an overdue open one never', () => {
    const cancelled = applyToBoard(applyToBoard(emptyBoardRow('o-1'), placed), event('coffee.order.cancelled', { orderId: 'o-1', cancelledAt: at(30) }));
    expect(boardAttributes(cancelled)).toEqual({ [OPEN_STAGE_ATTRIBUTE]: undefined, [BOARD_EXPIRES_AT]: Date.parse(at(30)) / 1000 + CLOSED_ROW_RETENTION_SECONDS });
    const overdue = applyToBoard(applyToBoard(emptyBoardRow('o-1'), placed), event('coffee.order.overdue', { orderId: 'o-1', stage: 'queued', waitingSeconds: 400, overdueAfterSeconds: 300, detectedAt: at(400) }));
    expect(boardAttributes(overdue)).toEqual({ [OPEN_STAGE_ATTRIBUTE]: 'queued', [BOARD_EXPIRES_AT]: undefined });
  });

  it('writes the attributes at the top of the row’s item, and refuses one that would replace the projection’s own', () => {
    const row = { key: 'o-1', state: { status: 'queued' }, watermarks: { 'coffee.orders': 1 }, revision: 1, version: 1 };
    expect(toItem(row, 2, { openStage: 'queued', expiresAt: undefined })).toEqual({ openStage: 'queued', expiresAt: undefined, pk: 'o-1', state: { status: 'queued' }, watermarks: { 'coffee.orders': 1 }, revision: 1, version: 2 });
    expect(() => toItem(row, 2, { version: 99 })).toThrow(InvalidProjectionRowError);
    expect(() => toItem(row, 2, { pk: 'other' })).toThrow(/pk: a row attribute cannot replace the projection's own/);
  });
});
