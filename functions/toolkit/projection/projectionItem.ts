import * as z from 'zod';
import type { ProjectionRow } from './catchUp';
import { InvalidProjectionRowError } from './errors';

/** Attribute names of a projection table's items. */
export const PROJECTION = {
  partitionKey: 'pk',
  state: 'state',
  watermarks: 'watermarks',
  revision: 'revision',
  version: 'version',
} as const;

const RowItemSchema = z.object({
  [PROJECTION.partitionKey]: z.string().min(1),
  [PROJECTION.state]: z.unknown(),
  [PROJECTION.watermarks]: z.record(z.string(), z.number().int().nonnegative()),
  [PROJECTION.revision]: z.number().int().nonnegative(),
  [PROJECTION.version]: z.number().int().positive(),
});

/**
 * A stored item as a row; the envelope of the row is validated, its state with `state` when given
 * (otherwise it is the projection's own write, trusted as `S`).
 */
export function toRow<S>(item: Record<string, unknown>, state?: z.ZodType<S>): ProjectionRow<S> {
  const parsed = RowItemSchema.safeParse(item);
  const key = typeof item[PROJECTION.partitionKey] === 'string' ? (item[PROJECTION.partitionKey] as string) : '(no key)';
  if (!parsed.success) throw new InvalidProjectionRowError(key, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const row = parsed.data;
  let value = row[PROJECTION.state] as S;
  if (state) {
    const checked = state.safeParse(value);
    if (!checked.success) throw new InvalidProjectionRowError(key, checked.error.issues.map((i) => `state.${i.path.join('.')}: ${i.message}`));
    value = checked.data;
  }
  return { key: row.pk, state: value, watermarks: row.watermarks, revision: row.revision, version: row.version };
}

/**
 * Top-level attributes a projection writes with a row, from its state (`ProjectionDefinition.attributes`):
 * what a sparse index or a time to live needs, since those read top-level attributes only. An attribute
 * left `undefined` is not written (the row leaves a sparse index, or never expires).
 */
export type RowAttributes = Readonly<Record<string, string | number | undefined>>;

const RESERVED: ReadonlySet<string> = new Set(Object.values(PROJECTION));

export function toItem<S>(row: ProjectionRow<S>, version: number, attributes: RowAttributes = {}): Record<string, unknown> {
  const reserved = Object.keys(attributes).filter((name) => RESERVED.has(name));
  if (reserved.length > 0) throw new InvalidProjectionRowError(row.key, reserved.map((name) => `${name}: a row attribute cannot replace the projection's own`));
  return {
    ...attributes,
    [PROJECTION.partitionKey]: row.key,
    [PROJECTION.state]: row.state,
    [PROJECTION.watermarks]: row.watermarks,
    [PROJECTION.revision]: row.revision,
    [PROJECTION.version]: version,
  };
}

/** The summary item's counters: every attribute but the key. */
export function toSummary(item: Record<string, unknown> | undefined): Record<string, number> {
  const counters: Record<string, number> = {};
  for (const [name, value] of Object.entries(item ?? {})) {
    if (name === PROJECTION.partitionKey) continue;
    if (typeof value !== 'number') throw new InvalidProjectionRowError('#SUMMARY', [`${name}: not a number`]);
    counters[name] = value;
  }
  return counters;
}
