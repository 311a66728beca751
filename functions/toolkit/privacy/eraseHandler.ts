import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as z from 'zod';
import { parseConfig } from '../config/parseConfig';
import { Outbox, OUTBOX_ENV, OutboxConfigSchema } from '../outbox';
import { erase } from './erase';
import { PersonalDataSealer } from './PersonalDataSealer';
import { ERASE_FUNCTION_SERVICE_NAME } from './privacyConfig';
import { instrument, withApiCallLog } from '../observability';

const outboxConfig = parseConfig(OutboxConfigSchema);
const logger = new Logger({ serviceName: ERASE_FUNCTION_SERVICE_NAME });
const dynamodb = instrument(new DynamoDBClient({}));
const sealer = PersonalDataSealer.fromEnvironment({ dynamodb });
const outbox = new Outbox({ client: dynamodb, tableName: outboxConfig[OUTBOX_ENV.tableName], source: outboxConfig[OUTBOX_ENV.source] });

export const EraseCommandSchema = z.object({
  subject: z.string().min(1).max(256),
  erasedBy: z.string().min(1).max(200),
  reason: z.string().max(500).optional(),
});

/**
 * `EraseSubject` (invoke directly, e.g. from `npm run ops -- privacy erase`): destroys the subject's
 * key and publishes `privacy.subject.erased`; running it again changes nothing and publishes nothing.
 */
export const handler = withApiCallLog(async (input: unknown) => {
  const parsed = EraseCommandSchema.safeParse(input);
  if (!parsed.success) {
    return { status: 'rejected', error: 'InvalidCommand', message: parsed.error.issues.map((i) => `${i.path.join('.') || '(command)'}: ${i.message}`).join('; ') };
  }
  const { subject, erasedBy, reason } = parsed.data;
  const outcome = await erase({ vault: sealer, outbox }, subject, { erasedBy, ...(reason ? { reason } : {}) });
  // The subject id is a pseudonymous key, not personal data itself; it is what the audit trail needs.
  logger.info('subject erased', { subject, alreadyErased: outcome.alreadyErased, published: outcome.published, eventId: outcome.eventId });
  return { status: 'erased', ...outcome };
});
