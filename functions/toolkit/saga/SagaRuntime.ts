import { AlreadyAppliedError } from '../inbox/errors';
import { ConcurrencyError } from '../outbox/errors';
import { backoffDelay, sleep, type BackoffPolicy } from '../retry/backoff';
import { advance, type SagaAdvance, type SagaEffects, type SagaInput } from './advance';
import type { SagaDefinition } from './defineSaga';
import { SagaContentionError } from './errors';
import type { SagaMessenger, SagaStore, SaveOptions } from './ports';

export interface SagaRuntimeOptions<I> {
  readonly store: SagaStore<I>;
  readonly messenger: SagaMessenger;
  /**
   * Load-advance-save rounds when the instance changes meanwhile (a concurrent input), with
   * exponential backoff and full jitter between them, before the input is retried later.
   * @default 5 attempts, 20 ms–500 ms
   */
  readonly contention?: BackoffPolicy;
  readonly sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_CONTENTION: BackoffPolicy = { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 500 };

/**
 * The durable shell around `advance`: load the instance, advance it, save the new state with the
 * saga's own events and the input's inbox item (version-conditioned: a concurrent input makes this
 * one start over from fresh state), then send the commands and timers. A crash between save and send
 * loses nothing: the input is redelivered, recognised as the last one applied, and its effects are
 * sent again; any other input applied before is recognised by its inbox item.
 */
export class SagaRuntime<I> {
  private readonly contention: BackoffPolicy;

  constructor(
    private readonly definition: SagaDefinition<I>,
    private readonly options: SagaRuntimeOptions<I>,
  ) {
    this.contention = options.contention ?? DEFAULT_CONTENTION;
  }

  async handle(input: SagaInput<I>, options: SaveOptions = {}): Promise<SagaAdvance<I>> {
    for (let attempt = 1; ; attempt++) {
      const loaded = await this.options.store.load(input.sagaId);
      const result = advance(this.definition, loaded?.state, input);
      if (result.outcome === 'ignored') {
        await this.send(result.resend, options.traceparent);
        return result;
      }
      try {
        await this.options.store.save(result.state, loaded?.version ?? 0, result.events, options);
      } catch (error) {
        if (error instanceof AlreadyAppliedError) return this.alreadyApplied(input, options.traceparent);
        if (!(error instanceof ConcurrencyError)) throw error;
        if (attempt >= this.contention.maxAttempts) throw new SagaContentionError(input.sagaId, attempt, { cause: error });
        await (this.options.sleep ?? sleep)(backoffDelay(this.contention, attempt));
        continue;
      }
      await this.send(result.effects, options.traceparent);
      return result;
    }
  }

  /**
   * The input's inbox item is there: applied before — maybe by this very call, whose first commit went
   * through though its answer was lost (then retried and refused by the inbox). If the input made the
   * instance's last change, that change's commands and timers may never have been sent: send them.
   */
  private async alreadyApplied(input: SagaInput<I>, traceparent?: string): Promise<SagaAdvance<I>> {
    const state = (await this.options.store.load(input.sagaId))?.state;
    const resend = state?.lastInputId === input.id ? state.effects : { commands: [], timers: [] };
    await this.send(resend, traceparent);
    return { outcome: 'ignored', reason: 'duplicate', resend };
  }

  private async send(effects: SagaEffects, traceparent?: string): Promise<void> {
    for (const command of effects.commands) await this.options.messenger.sendCommand(command, traceparent);
    for (const timer of effects.timers) await this.options.messenger.schedule(this.definition.name, timer, traceparent);
  }
}
