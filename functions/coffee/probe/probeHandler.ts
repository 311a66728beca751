import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../../toolkit/config/parseConfig';
import { outboxFromEnv } from '../../toolkit/outbox/outboxFromEnv';
import { DynamoBoardRows } from './BoardRows';
import { InvalidProbeInputError } from './errors';
import { PROBE_ENV, PROBE_METRICS, ProbeConfigSchema, ProbeInputSchema } from './probeConfig';
import { PowertoolsProbeMetrics } from './probeMetrics';
import { runProbe, type ProbeReport } from './runProbe';
import { instrument } from '../../toolkit/observability';

const config = parseConfig(ProbeConfigSchema);
const logger = new Logger({ serviceName: PROBE_METRICS.service });
const dynamodb = instrument(new DynamoDBClient({}));
const rows = new DynamoBoardRows({
  dynamodb,
  tableName: config[PROBE_ENV.boardTableName],
  onUnreadable: (key, problems) => logger.warn('board row skipped: not a board row', { orderId: key, problems }),
});
const { outbox } = outboxFromEnv(dynamodb);
const metrics = new PowertoolsProbeMetrics(new Metrics({ namespace: PROBE_METRICS.namespace, serviceName: PROBE_METRICS.service }));

/**
 * The business probe "every order is served within N seconds", run on a schedule. The input may set
 * `overdueAfterSeconds` (the schedule's constant input, or a test's); it defaults to the environment's.
 * Returns the report: the evaluation and the events committed.
 */
export const handler = async (input: unknown): Promise<ProbeReport> => {
  const parsed = ProbeInputSchema.safeParse(input ?? {});
  if (!parsed.success) throw new InvalidProbeInputError(parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`));
  const overdueAfterSeconds = parsed.data.overdueAfterSeconds ?? config[PROBE_ENV.overdueAfterSeconds];
  const report = await runProbe({ rows, outbox, metrics }, new Date(), { overdueAfterSeconds });
  logger.info('probe ran', {
    open: report.open,
    overdueOpen: report.overdueOpen,
    thresholdSeconds: overdueAfterSeconds,
    committed: report.committed,
    alreadyReported: report.alreadyReported,
    undated: report.undated,
  });
  return report;
};
