import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ProjectionReader } from '../../toolkit/projection/ProjectionReader';
import { PROBE_STAGES, ProbeRowSchema, type ProbeRow } from './boardRow';
import { BOARD_OPEN_INDEX, OPEN_STAGE_ATTRIBUTE } from '../board/board';

/** The rows of the order board the probe checks. */
export interface BoardRows {
  list(): Promise<ProbeRow[]>;
}

export interface DynamoBoardRowsOptions {
  readonly dynamodb: DynamoDBClient;
  /** The order board's projection table. */
  readonly tableName: string;
  /** Told about a row whose state does not read as a board row (its key and the paths that failed; no values). */
  readonly onUnreadable?: (key: string, problems: string[]) => void;
}

/**
 * The order board's open orders, read with the projection toolkit's reader from the board's sparse
 * index of open orders by stage (a Query per stage, paged): the probe's work grows with the open
 * orders, not with the board's history. Each row's state is checked here rather than by the reader, so that one row the
 * probe cannot read is reported and skipped instead of blinding the probe to every other order.
 */
export class DynamoBoardRows implements BoardRows {
  private readonly reader: ProjectionReader<unknown>;

  constructor(private readonly options: DynamoBoardRowsOptions) {
    this.reader = new ProjectionReader<unknown>({ dynamodb: options.dynamodb, tableName: options.tableName });
  }

  /** The open orders: each stage's from the board's open-orders index (served and cancelled ones are not read at all). */
  async list(): Promise<ProbeRow[]> {
    const rows: ProbeRow[] = [];
    for (const stage of PROBE_STAGES) {
      for await (const row of this.reader.byIndex(BOARD_OPEN_INDEX, OPEN_STAGE_ATTRIBUTE, stage)) {
        const parsed = ProbeRowSchema.safeParse(row.state);
        if (parsed.success) rows.push(parsed.data);
        else this.options.onUnreadable?.(row.key, parsed.error.issues.map((issue) => issue.path.join('.') || '(state)'));
      }
    }
    return rows;
  }
}
