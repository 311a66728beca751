import { halfOpen, planRecovery, type CircuitStore, type ConsumerSwitch } from './circuitBreaker';

export interface CircuitRecovery {
  /** Circuits this run moved from open to half-open. */
  readonly halfOpened: string[];
  /** Whether this run resumed the consumer. */
  readonly resumed: boolean;
}

/**
 * One run of a consumer's circuit closer: half-opens the circuits whose cool-down is over and resumes
 * the consumer, so that its next calls probe them (a success closes a circuit, a failure opens it
 * again and stops the consumer again). The consumer is resumed first: if this run dies before the
 * circuits are half-open, the consumer's next call half-opens a due circuit itself. A circuit that
 * another invocation changed meanwhile is left as that invocation made it.
 */
export async function halfOpenCircuits({ store, consumer, clock = Date.now }: { store: CircuitStore; consumer: ConsumerSwitch; clock?: () => number }): Promise<CircuitRecovery> {
  const loaded = await Promise.all((await store.names()).map(async (name) => ({ name, ...(await store.load(name)) })));
  const now = clock();
  const plan = planRecovery(loaded, now);
  if (!plan.resume) return { halfOpened: [], resumed: false };
  await consumer.resume();
  const halfOpened: string[] = [];
  for (const circuit of loaded.filter((c) => plan.halfOpen.includes(c.name))) {
    if (await store.save(circuit.name, halfOpen(circuit.state, now), circuit.version)) halfOpened.push(circuit.name);
  }
  return { halfOpened, resumed: true };
}
