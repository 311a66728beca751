/**
 * Bench consumer (one per measured path): records when each event's effect was applied, next to
 * its commit time (the envelope's `time`). Idempotent by itself (a conditional put), so it runs
 * without idempotency records: the bench measures the relay paths, not Powertools' store.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../../functions/toolkit/config/parseConfig';
import { defineConsumer } from '../../functions/toolkit/consumer';
import { instrument } from '../../functions/toolkit/observability';
import { BENCH_ENV, BENCH_EVENT_TYPE, BenchEventSchema, RecorderConfigSchema } from '../benchNames';
import { recordResult } from './recordResult';

const config = parseConfig(RecorderConfigSchema);
const dynamodb = instrument(new DynamoDBClient({}));

export const handler = defineConsumer({
  events: { [BENCH_EVENT_TYPE]: BenchEventSchema },
  idempotency: 'handler',
  handler: async (event) => {
    const appliedAt = Date.now();
    await recordResult(dynamodb, config[BENCH_ENV.resultsTable], {
      path: config[BENCH_ENV.path],
      eventId: event.id,
      phase: event.data.phase,
      committedAt: Date.parse(event.time),
      appliedAt,
    });
  },
});
