import type { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseConfig } from '../config/parseConfig';
import { defineConsumer, type ConsumerDependencies } from '../consumer/defineConsumer';
import { PoisonMessageError } from '../consumer/errors';
import { Outbox, OUTBOX_ENV, OutboxConfigSchema } from '../outbox';
import type { SagaDefinition } from './defineSaga';
import { DynamoSagaStore } from './DynamoSagaStore';
import { InvalidSagaMessageError } from './errors';
import { sagaQueueSchemas, toSagaInput } from './messages';
import { SAGA_ENV, SagaConfigSchema } from './sagaConfig';
import { SagaRuntime } from './SagaRuntime';
import { SqsSagaMessenger } from './SqsSagaMessenger';
import { instrument } from '../observability';

export interface SagaHandlerDependencies extends ConsumerDependencies {
  readonly runtime: SagaRuntime<unknown>;
  readonly clock: () => Date;
}

/**
 * The Lambda handler of a saga (what a saga's handler file exports): an idempotent consumer of the
 * saga's queue — start requests, the steps' events from the bus, its own delayed timers — that
 * advances the instance each names. Wired by the `Saga` construct.
 */
export function defineSagaHandler<I>(
  definition: SagaDefinition<I>,
  dependencies: Partial<SagaHandlerDependencies> = {},
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const clock = dependencies.clock ?? (() => new Date());
  const runtime = (dependencies.runtime as SagaRuntime<I> | undefined) ?? runtimeFromEnv(definition, dependencies.dynamodb ?? instrument(new DynamoDBClient({})), dependencies.sqs ?? instrument(new SQSClient({})), clock);
  return defineConsumer(
    {
      events: sagaQueueSchemas(definition),
      handler: async (event, { logger, inbox }) => {
        try {
          const input = toSagaInput(definition, event, clock());
          const result = await runtime.handle(input, { traceparent: event.traceparent, inbox });
          log(logger, definition.name, input.sagaId, event, result);
        } catch (error) {
          // A message no retry can fix (no correlation id, a command for an unknown target): to the DLQ at once.
          if (error instanceof InvalidSagaMessageError) throw new PoisonMessageError(error.message, event.id, { cause: error });
          throw error;
        }
      },
    },
    dependencies,
  );
}

function runtimeFromEnv<I>(definition: SagaDefinition<I>, dynamodb: DynamoDBClient, sqs: SQSClient, clock: () => Date): SagaRuntime<I> {
  const saga = parseConfig(SagaConfigSchema);
  const outboxConfig = parseConfig(OutboxConfigSchema);
  const tableName = outboxConfig[OUTBOX_ENV.tableName];
  const retention = outboxConfig[OUTBOX_ENV.retentionSeconds];
  const outbox = new Outbox({ client: dynamodb, tableName, source: outboxConfig[OUTBOX_ENV.source], clock, ...(retention === undefined ? {} : { retentionSeconds: retention }) });
  return new SagaRuntime(definition, {
    store: new DynamoSagaStore<I>(dynamodb, tableName, outbox),
    messenger: new SqsSagaMessenger({ sqs, commandQueues: saga[SAGA_ENV.commandQueues], queueUrl: saga[SAGA_ENV.queueUrl], clock }),
  });
}

/** Ids, types and outcomes only: never the input or event data. */
function log(logger: Logger, saga: string, sagaId: string, event: { id: string; type: string }, result: Awaited<ReturnType<SagaRuntime<unknown>['handle']>>): void {
  if (result.outcome === 'ignored') {
    logger.info('saga input ignored', { saga, sagaId, eventId: event.id, type: event.type, reason: result.reason });
    return;
  }
  const { status, waiting } = result.state;
  logger.info('saga advanced', { saga, sagaId, eventId: event.id, type: event.type, status, waitingOn: waiting?.step, phase: waiting?.phase, attempt: waiting?.attempt });
  if (status === 'failed') logger.error('saga failed: it can neither go on nor go back (a pivot step in doubt, or a compensation that gave up); needs an operator', { saga, sagaId, failedStep: result.state.failure?.step });
}
