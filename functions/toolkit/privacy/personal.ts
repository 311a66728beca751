import * as z from 'zod';
import { SealedValueError } from './errors';
import type { FieldSealer } from './ports';

/** Where a schema is marked personal; the walkers below look it up. */
const personalRegistry = z.registry<{ personal: true }>();

/** A sealed value as it travels: see sealedValue.ts for the exact format. */
const SealedString = z.string().regex(/^pd1:/, 'a sealed personal value');

/**
 * Marks a field of an event or state schema as personal data. Written, it is the plaintext (`inner`);
 * committed through the outbox it becomes a sealed string; read by a consumer it is opened again —
 * or `null` once its subject is erased. So the field's type is `T | string | null` on the wire.
 *
 * ```ts
 * const OrderPlaced = z.object({ orderId: z.string(), customerName: personal(z.string().min(1)) });
 * ```
 */
export function personal<T extends z.ZodType>(inner: T) {
  const schema = z.union([SealedString, z.null(), inner]);
  personalRegistry.add(schema as z.ZodType, { personal: true });
  return schema;
}

export const isPersonal = (schema: z.ZodType): boolean => personalRegistry.has(schema);

/**
 * `path` is where the value is (for audits); `field` is the name of the field that holds it, which is
 * what a seal is bound to: the same customer object sealed once can be embedded in state and events
 * at different depths and still open, while a name moved into an email field does not.
 */
type Visit = (value: unknown, path: string, field: string) => Promise<unknown>;

/** Rebuilds `value` along `schema`, replacing each personal field by what `visit` returns. */
async function mapPersonal(schema: z.ZodType, value: unknown, path: string, visit: Visit, field = ''): Promise<unknown> {
  if (isPersonal(schema)) return value === undefined ? value : visit(value, path, field);
  if (value === null || value === undefined) return value;
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault) {
    return mapPersonal(schema.unwrap() as z.ZodType, value, path, visit, field);
  }
  if (schema instanceof z.ZodObject && typeof value === 'object') {
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const [key, child] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      if (key in out) out[key] = await mapPersonal(child, out[key], path ? `${path}.${key}` : key, visit, key);
    }
    return out;
  }
  if (schema instanceof z.ZodArray && Array.isArray(value)) {
    return Promise.all(value.map((item, i) => mapPersonal(schema.element as z.ZodType, item, `${path}[${i}]`, visit, field)));
  }
  return value;
}

/** The dotted paths of the personal fields present in `value` (for audits and log redaction). */
export async function personalPaths(schema: z.ZodType, value: unknown): Promise<string[]> {
  const paths: string[] = [];
  await mapPersonal(schema, value, '', async (v, path) => {
    paths.push(path);
    return v;
  });
  return paths;
}

/**
 * Seals every personal field of `value` for `subject` (the person the data is about — not always
 * the aggregate). The field's name is bound into the seal, so a value cannot be moved to another
 * field unnoticed. Nulls are left as they are, and so is a value this vault sealed for this field
 * (it opens, or its subject was erased): one passing through again. Anything else is sealed, also a
 * string that merely looks sealed — input is never trusted as sealed because of its shape.
 */
export function sealPersonalFields<T>(schema: z.ZodType, value: T, subject: string, sealer: FieldSealer): Promise<T> {
  return mapPersonal(schema, value, '', async (v, _path, field) => {
    if (v === null || (typeof v === 'string' && (await sealedHere(v, field, subject, sealer)))) return v;
    return sealer.seal(subject, field, JSON.stringify(v));
  }) as Promise<T>;
}

/**
 * Whether `value` is a seal of this vault for `field`: it opens (its authentication tag holds), or it
 * is `subject`'s and `subject` is erased (nothing can open it again, nor seal anything new for them).
 * A forged or moved value is not; a vault that cannot be reached throws (the caller retries).
 */
async function sealedHere(value: string, field: string, subject: string, sealer: FieldSealer): Promise<boolean> {
  if (!SealedString.safeParse(value).success) return false;
  try {
    await sealer.open(value, field);
    return true;
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    if (error.name === 'SubjectErasedError') return (error as Error & { subject?: string }).subject === subject;
    if (error.name === 'SealedValueError') return false;
    throw error;
  }
}

export interface OpenOptions {
  /**
   * What an erased subject's field becomes: `null` (`redact`, the default: the event is still
   * processed without the personal data) or a `SubjectErasedError` (`throw`).
   */
  readonly onErased?: 'redact' | 'throw';
  /**
   * What a personal field that is not sealed is: `refuse` (the default: a `SealedValueError`, poison
   * for a consumer — every producer through the outbox seals, so plaintext here is a forged or broken
   * event) or `accept` (returned as it is, for data that was never sealed).
   */
  readonly plaintext?: 'refuse' | 'accept';
}

/** Opens every sealed personal field of `value`; see `OpenOptions` for erased subjects. */
export function openPersonalFields<T>(schema: z.ZodType, value: T, sealer: FieldSealer, options: OpenOptions = {}): Promise<T> {
  return mapPersonal(schema, value, '', async (v, path, field) => {
    if (v === null) return v;
    if (typeof v !== 'string' || !SealedString.safeParse(v).success) {
      if (options.plaintext === 'accept') return v;
      throw new SealedValueError(`plaintext where a sealed personal value belongs (${JSON.stringify(path)})`, { field });
    }
    try {
      return JSON.parse(await sealer.open(v, field)) as unknown;
    } catch (error) {
      if (error instanceof Error && error.name === 'SubjectErasedError' && (options.onErased ?? 'redact') === 'redact') return null;
      throw error;
    }
  }) as Promise<T>;
}

/** What a personal field shows in logs. */
export const REDACTED = '[personal data redacted]';

/**
 * A copy of `value` safe to log: every personal field (sealed or not) replaced by `REDACTED`. For the
 * rare log line that needs a payload; the toolkit itself logs ids and types only.
 */
export function redactPersonalFields<T>(schema: z.ZodType, value: T): Promise<T> {
  return mapPersonal(schema, value, '', async (v) => (v === null ? v : REDACTED)) as Promise<T>;
}
