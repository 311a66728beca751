import * as z from 'zod';

/**
 * A read-model item as the toolkit's projections store it (`{ pk, state, watermarks, revision,
 * version }`): only `state` and `revision` matter here. Other attributes are ignored.
 */
const RowItemSchema = z.object({
  state: z.record(z.string(), z.unknown()),
  revision: z.number().int().nonnegative(),
});

/** What a browser receives: `{ kind, row }`, the row being the item's state with its revision. */
export interface LiveMessage {
  readonly kind: string;
  readonly row: Readonly<Record<string, unknown>> & { readonly revision: number };
}

export type LiveMapping =
  | { readonly outcome: 'push'; readonly message: LiveMessage }
  /** Not a row (e.g. a projection's summary item, which has no `state`): nothing to push. */
  | { readonly outcome: 'skip' }
  /** Looks like a row but is not one: dead-lettered with the problems (paths only, never values). */
  | { readonly outcome: 'poison'; readonly problems: string[] };

/**
 * Maps a changed read-model item to the message pushed to every client: `{ kind, row: { ...state,
 * revision } }`. The item's `revision` wins over any `revision` inside `state`, so a client that
 * applies a row only when its revision is greater never shows an older state after a newer one.
 * Pure: the caller unmarshals the stream image.
 */
export function toLiveMessage(kind: string, item: Readonly<Record<string, unknown>>): LiveMapping {
  if (item.state === undefined) return { outcome: 'skip' };
  const parsed = RowItemSchema.safeParse(item);
  if (!parsed.success) {
    return { outcome: 'poison', problems: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(item)'}: ${issue.message}`) };
  }
  return { outcome: 'push', message: { kind, row: { ...parsed.data.state, revision: parsed.data.revision } } };
}
