import type { RegisteredEventType } from './defineRegistry';
import { dataJsonSchema, schemaKey, stableJson, type JSONSchema } from './jsonSchema';

export type CompatibilityProblemKind = 'changed' | 'removed' | 'missing-upcaster' | 'version-gap';

export interface CompatibilityProblem {
  readonly kind: CompatibilityProblemKind;
  readonly type: string;
  readonly version: number;
  readonly message: string;
}

const FIX = 'bump the version and add an upcaster';

/**
 * Compares a registry with the schemas already published (`docs/schemas/*.json`, by `schemaKey`).
 * A published version is immutable: one whose schema differs now, or that left the registry, is a
 * problem. Every version after the first needs an upcaster from the one before, and versions count
 * 1, 2, 3… without a gap. Versions not published yet are fine (`npm run docs` publishes them). Pure.
 */
export function checkCompatibility(
  published: Readonly<Record<string, JSONSchema>>,
  registry: { readonly types: readonly RegisteredEventType[] },
): CompatibilityProblem[] {
  const problems: CompatibilityProblem[] = [];
  const current = new Map<string, { eventType: RegisteredEventType; version: number }>();
  for (const eventType of registry.types) {
    for (const version of eventType.versionNumbers) current.set(schemaKey(eventType.type, version), { eventType, version });
    eventType.versionNumbers.forEach((version, i) => {
      if (version !== i + 1) {
        problems.push({ kind: 'version-gap', type: eventType.type, version, message: `${eventType.type} has version ${version} where version ${i + 1} is expected: versions count 1, 2, 3… without a gap` });
      } else if (version > 1 && !eventType.upcasterFrom(version - 1)) {
        problems.push({ kind: 'missing-upcaster', type: eventType.type, version, message: `${eventType.type} v${version} has no upcaster from v${version - 1}: add upcast[${version - 1}] so that old events still load` });
      }
    });
  }
  for (const key of Object.keys(published).sort()) {
    const match = /^(.+)\.v([1-9][0-9]*)$/.exec(key);
    const type = match?.[1] ?? key;
    const version = Number(match?.[2] ?? 0);
    const now = current.get(key);
    if (!now) {
      problems.push({ kind: 'removed', type, version, message: `${type} v${version} is published but no longer in the registry: published versions stay (old events in the log still use them)` });
    } else if (stableJson(dataJsonSchema(now.eventType, now.version)) !== stableJson(published[key])) {
      problems.push({ kind: 'changed', type, version, message: `${type} v${version} differs from its published schema (docs/schemas/${key}.json): a published schema never changes — ${FIX}` });
    }
  }
  return problems;
}
