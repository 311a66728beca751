import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { defineMessageConsumer, type ConsumerContext, type ConsumerDependencies, type IdempotencyMode } from '../consumer/defineConsumer';
import { PoisonMessageError } from '../consumer/errors';
import { digestOf } from '../inbox/inbox';
import { InvalidSagaMessageError } from './errors';
import { decodeSagaCommand, type CommandOf, type CommandSchemas } from './messages';

export interface CommandConsumerDefinition<S extends CommandSchemas> {
  /** The commands handled: type → zod schema of `data`. Anything else is poison. */
  readonly commands: S;
  /**
   * Applies one command. Answer it with an event (the saga waits for one), also when it repeats an
   * earlier one. In inbox mode (the default) write the effect with `context.inbox`.
   */
  readonly handler: (command: CommandOf<S>, context: ConsumerContext) => Promise<void>;
  /** @default 'inbox' */
  readonly idempotency?: IdempotencyMode;
}

/**
 * A target service's consumer of saga commands (its `EventConsumer` with `source: { kind: 'commands' }`):
 * the toolkit's consumer shell — commands validated with zod (poison dead-lettered at once with the
 * reason), each command id applied once (inbox), transient failures retried with backoff and jitter,
 * then dead-lettered with the last error.
 */
export function defineCommandConsumer<S extends CommandSchemas>(
  definition: CommandConsumerDefinition<S>,
  dependencies: Partial<ConsumerDependencies> = {},
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  return defineMessageConsumer<CommandOf<S>>(
    {
      decode: (body) => {
        let command: CommandOf<S>;
        try {
          command = decodeSagaCommand(body, definition.commands);
        } catch (error) {
          if (error instanceof InvalidSagaMessageError) throw new PoisonMessageError(error.message, undefined, { cause: error });
          throw error;
        }
        const { saga, sagaId, step, phase, attempt, type, data } = command;
        return { message: command, id: command.commandId, digest: digestOf([saga, sagaId, step, phase, attempt, type, data]), describe: { commandId: command.commandId, type } };
      },
      apply: definition.handler,
      ...(definition.idempotency ? { idempotency: definition.idempotency } : {}),
    },
    dependencies,
  );
}
