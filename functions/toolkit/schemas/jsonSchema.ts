import * as z from 'zod';
import { isPersonal } from '../privacy/personal';
import type { RegisteredEventType } from './defineRegistry';

/** A JSON Schema document, as generated and as published. */
export type JSONSchema = { readonly [key: string]: unknown };

/** The extension that marks a personal field (sealed on the wire; see privacy/personal.ts). */
export const PERSONAL_DATA_EXTENSION = 'x-personal-data';

/** `docs/schemas/<this>.json`: the name a version's schema is published under. */
export const schemaKey = (type: string, version: number): string => `${type}.v${version}`;

/**
 * The JSON Schema (draft 2020-12, zod 4's `z.toJSONSchema`) of `data` of one version, with personal
 * fields marked `"x-personal-data": true`, keys sorted so that the output is stable. The type's
 * `description` is not part of it (it goes to the AsyncAPI message): rewording docs is not a new version.
 */
export function dataJsonSchema(eventType: RegisteredEventType, version: number): JSONSchema {
  const schema = eventType.versions[version];
  if (!schema) throw new TypeError(`${eventType.type} has no version ${version}`);
  const generated = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'output',
    unrepresentable: 'throw',
    override: (ctx) => {
      if (isPersonal(ctx.zodSchema as unknown as z.ZodType)) ctx.jsonSchema[PERSONAL_DATA_EXTENSION] = true;
    },
  });
  return sortKeys({
    ...generated,
    $id: `${schemaKey(eventType.type, version)}.json`,
    title: `${eventType.type} v${version}`,
  }) as JSONSchema;
}

/** Every version's schema of every type, by `schemaKey`. */
export function publishedSchemasOf(types: readonly RegisteredEventType[]): Record<string, JSONSchema> {
  const out: Record<string, JSONSchema> = {};
  for (const eventType of types) for (const version of eventType.versionNumbers) out[schemaKey(eventType.type, version)] = dataJsonSchema(eventType, version);
  return out;
}

/** A deep copy with object keys in sorted order (arrays keep theirs). */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** Stable JSON text: sorted keys, two-space indent, final newline. */
export const stableJson = (value: unknown): string => `${JSON.stringify(sortKeys(value), null, 2)}\n`;
