import * as z from 'zod';

/** Environment of the queries function: the read models it serves. */
export const QUERIES_ENV = { boardTable: 'BOARD_TABLE', waitTimesTable: 'WAIT_TIMES_TABLE' } as const;

export const QueriesConfigSchema = z.object({ [QUERIES_ENV.boardTable]: z.string().min(1), [QUERIES_ENV.waitTimesTable]: z.string().min(1).optional() });
