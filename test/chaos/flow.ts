/**
 * The contract between the chaos harness (test/chaos/run.ts) and each flow it drives (the wallet's,
 * test/chaos/walletFlow.ts; the coffee shop's, test/chaos/coffeeFlow.ts). A flow names the deployed
 * functions whose AWS calls go through the fault chain, drives its load, and checks its invariants
 * from the consumers' own records once the system has settled.
 */
import type { FaultKind } from './faults';

export interface FlowContext {
  /** Every deployed stack's outputs, flattened (output name → value). */
  outputs: Record<string, string>;
  /** The local cloud's endpoint (the harness's own calls go there directly, not through the faults). */
  endpoint: string;
  log: (line: string) => void;
}

export interface InvariantResult {
  flow: string;
  invariant: string;
  checked: number;
  violations: number;
  detail?: string;
}

/** A fault a flow injected itself (the harness counts the layers' and microburst's). */
export interface FlowFault {
  readonly kind: FaultKind;
  readonly service: string;
  readonly operation: string;
  readonly count: number;
}

export interface Flow {
  readonly name: string;
  /** Function names (deployed) whose AWS calls should go through the fault chain. */
  functions(ctx: FlowContext): string[];
  /** Drives `events` events over `keys` keys (plus `poison` poison messages); resolves when all were submitted. */
  drive(ctx: FlowContext, opts: { events: number; keys: number; poison: number; onProgress: (submitted: number) => void }): Promise<void>;
  /** Waits until the flow has settled (or times out), then checks its invariants from the consumers' own records. */
  check(ctx: FlowContext): Promise<InvariantResult[]>;
  /** Faults the flow injected itself beyond its poison (e.g. an operator's redrive during the load), once checked. */
  injected?(): FlowFault[];
}
