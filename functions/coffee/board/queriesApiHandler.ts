import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../../toolkit/config/parseConfig';
import * as z from 'zod';
import { httpApi, HttpError, json, pathParameter, validated } from '../../toolkit/http/httpApi';
import { ProjectionReader, type ProjectionRow } from '../../toolkit/projection';
import { averageWaitSeconds, type OrderWait } from '../analytics/waitTimes';
import { OrderIdSchema } from '../orders/placeOrder';
import type { BoardState } from './board';
import { QUERIES_ENV, QueriesConfigSchema } from './queriesConfig';
import { instrument } from '../../toolkit/observability';
import { COFFEE_ACCESS } from '../access';

const config = parseConfig(QueriesConfigSchema);
const logger = new Logger({ serviceName: 'coffee-board' });
const dynamodb = instrument(new DynamoDBClient({}));
const board = new ProjectionReader<BoardState>({ dynamodb, tableName: config[QUERIES_ENV.boardTable] });
const waitTimesTable = config[QUERIES_ENV.waitTimesTable];
const waitTimes = waitTimesTable === undefined ? undefined : new ProjectionReader<OrderWait>({ dynamodb, tableName: waitTimesTable });

/** `GET /board?limit=&cursor=`: at most `BOARD_PAGE_MAX` rows a page (default `BOARD_PAGE_DEFAULT`). */
export const BOARD_PAGE_DEFAULT = 100;
export const BOARD_PAGE_MAX = 200;
const BoardPageQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(BOARD_PAGE_MAX).default(BOARD_PAGE_DEFAULT), cursor: z.string().min(1).max(1_024).optional() })
  .strict();

/** A board row as the page shows it: the order's state and the row's revision (newer wins). */
const boardRow = (row: ProjectionRow<BoardState>) => ({ ...row.state, revision: row.revision });

/** Queries (CQRS): served from the read models only, never from a service's table. */
export const handler = httpApi(
  {
    'GET /board': async (event) => {
      // One page per request (bounded work): follow `cursor` for the next one until there is none.
      const { limit, cursor } = validated(BoardPageQuery, event.queryStringParameters ?? {}, 'InvalidQuery');
      let page;
      try {
        page = await board.page({ limit, ...(cursor === undefined ? {} : { cursor }) });
      } catch (error) {
        if (error instanceof RangeError) throw new HttpError(400, 'InvalidQuery', 'cursor: not a cursor this API gave out');
        throw error;
      }
      const rows = page.rows.map(boardRow).sort((a, b) => (a.placedAt ?? '').localeCompare(b.placedAt ?? ''));
      return json(200, { rows, ...(page.cursor === undefined ? {} : { cursor: page.cursor }) });
    },
    'GET /board/orders/{orderId}': async (event) => {
      const orderId = pathParameter(event, 'orderId', OrderIdSchema);
      const row = await board.get(orderId);
      if (!row) throw new HttpError(404, 'OrderNotFound', `order ${orderId} is not on the board`);
      return json(200, boardRow(row));
    },
    'GET /analytics/wait-times': async () => {
      if (!waitTimes) throw new HttpError(404, 'NotDeployed', 'the wait-time analytics are not deployed');
      const totals = { served: 0, totalWaitMs: 0, cancelled: 0, ...(await waitTimes.summary()) };
      return json(200, { ...totals, averageWaitSeconds: averageWaitSeconds(totals) ?? null });
    },
  },
  { access: COFFEE_ACCESS, logger },
);
