import * as z from 'zod';
import { jsonEnv } from '../config/parseConfig';

/** Environment variables of a projection function; `ProjectionTable.grantProject` and `EventConsumer` (`replayLogs`) set them. */
export const PROJECTION_ENV = {
  /** The projection's own table (string partition key `pk`). */
  table: 'PROJECTION_TABLE',
  /** JSON `{ "<event source>": "<outbox table name>" }`: the logs a gap may be filled from. */
  logs: 'PROJECTION_LOGS',
} as const;

export const ProjectionConfigSchema = z.object({
  [PROJECTION_ENV.table]: z.string().min(1),
  [PROJECTION_ENV.logs]: jsonEnv(z.record(z.string().min(1), z.string().min(1))).default({}),
});
export type ProjectionConfig = z.infer<typeof ProjectionConfigSchema>;
