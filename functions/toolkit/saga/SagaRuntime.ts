import { ConcurrencyError } from '../outbox/errors';
import { advance, type SagaAdvance, type SagaEffects, type SagaInput } from './advance';
import type { SagaDefinition } from './defineSaga';
import { SagaContentionError } from './errors';
import type { SagaMessenger, SagaStore } from './ports';

export interface SagaRuntimeOptions<I> {
  readonly store: SagaStore<I>;
  readonly messenger: SagaMessenger;
  /** Load-advance-save rounds when the instance changes meanwhile, before the input is retried later. @default 5 */
  readonly maxAttempts?: number;
}

/**
 * The durable shell around `advance`: load the instance, advance it, save the new state with the
 * saga's own events (version-conditioned: a concurrent input makes this one start over from fresh
 * state), then send the commands and timers. A crash between save and send loses nothing: the input
 * is redelivered, recognised as the last one applied, and its effects are sent again.
 */
export class SagaRuntime<I> {
  private readonly maxAttempts: number;

  constructor(
    private readonly definition: SagaDefinition<I>,
    private readonly options: SagaRuntimeOptions<I>,
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  async handle(input: SagaInput<I>, traceparent?: string): Promise<SagaAdvance<I>> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const loaded = await this.options.store.load(input.sagaId);
      const result = advance(this.definition, loaded?.state, input);
      if (result.outcome === 'ignored') {
        await this.send(result.resend, traceparent);
        return result;
      }
      try {
        await this.options.store.save(result.state, loaded?.version ?? 0, result.events, traceparent);
      } catch (error) {
        if (error instanceof ConcurrencyError) continue;
        throw error;
      }
      await this.send(result.effects, traceparent);
      return result;
    }
    throw new SagaContentionError(input.sagaId, this.maxAttempts);
  }

  private async send(effects: SagaEffects, traceparent?: string): Promise<void> {
    for (const command of effects.commands) await this.options.messenger.sendCommand(command, traceparent);
    for (const timer of effects.timers) await this.options.messenger.schedule(this.definition.name, timer, traceparent);
  }
}
