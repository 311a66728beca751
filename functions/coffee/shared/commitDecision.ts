import { HttpError } from '../../toolkit/http/httpApi';
import { ConcurrencyError, GuardFailedError, type CommitGuard, type NewEvent, type Outbox } from '../../toolkit/outbox';

/** A decider's answer: a new state and its events, or a rejection the caller is told about. */
export type Decision<S> =
  | { readonly kind: 'decided'; readonly state: S; readonly events: NewEvent[] }
  | { readonly kind: 'rejected'; readonly status: 404 | 409; readonly error: string; readonly message: string };

/**
 * Commits a staff command's decision through the outbox, guarded by what the decision relied on.
 * Rejections, failed guards and lost races all become a 4xx that says what happened.
 */
export async function commitDecision<S extends object>(
  outbox: Outbox,
  change: { readonly id: string; readonly key: Readonly<Record<string, string>>; readonly expectedVersion: number },
  decision: Decision<S>,
  guards: readonly CommitGuard[] = [],
): Promise<S> {
  if (decision.kind === 'rejected') throw new HttpError(decision.status, decision.error, decision.message);
  try {
    await outbox.commit([{ ...change, state: decision.state, events: decision.events }], { guards });
  } catch (error) {
    if (error instanceof GuardFailedError) throw new HttpError(409, 'Conflict', error.reason);
    if (error instanceof ConcurrencyError) throw new HttpError(409, 'Conflict', `${change.id} changed meanwhile; try again`);
    throw error;
  }
  return decision.state;
}
