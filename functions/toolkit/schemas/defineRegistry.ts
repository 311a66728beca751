import type * as z from 'zod';
import type { EventEnvelope } from '../envelope/EventEnvelope';
import type { LatestVersion, VersionSchemas } from './defineEventType';
import { olderVersionCopy } from './olderVersionCopy';
import { SchemaValidationError, UnknownEventTypeError, UnknownSchemaVersionError } from './errors';

/** What a registry needs of an event type (see `defineEventType`). */
export interface RegisteredEventType {
  readonly type: string;
  readonly source: string;
  readonly description?: string;
  readonly versions: VersionSchemas;
  readonly versionNumbers: readonly number[];
  readonly latestVersion: number;
  upcasterFrom(version: number): ((data: unknown) => unknown) | undefined;
  downcasterFrom(version: number): ((data: unknown) => unknown) | undefined;
}

/** The zod schema of the latest version of an event type. */
export type LatestSchemaOf<E> = E extends { readonly versions: infer V extends VersionSchemas } ? V[LatestVersion<V>] : never;

/**
 * A consumer's entry for one type (see `EventSchemas` in the consumer): any known version is
 * accepted and upcast, so the handler sees `schema`'s data, of `version`, only.
 */
export interface UpcastingEntry<Z extends z.ZodType = z.ZodType> {
  readonly version: number;
  readonly schema: Z;
  readonly upcast: (fromVersion: number, data: unknown) => unknown;
}

/** The event store's hook: lifts stored `data` of `dataversion` to the latest version of `type`. */
export type Upcaster = (type: string, dataversion: number, data: unknown) => unknown;

/** The relay's hook: extra copies of a committed event to publish next to it. */
export type AlsoPublish = (event: EventEnvelope) => readonly EventEnvelope[];

export interface EventRegistry<T extends readonly RegisteredEventType[]> {
  readonly types: T;
  /** The type's definition, or `UnknownEventTypeError`. */
  get(type: string): RegisteredEventType;
  /** The latest version of a type and its schema. */
  latest<K extends T[number]['type']>(type: K): { readonly version: number; readonly schema: LatestSchemaOf<Extract<T[number], { type: K }>> };
  /** Parses `data` with the schema of `type` v`version`; `SchemaValidationError` names every problem (paths, never values). */
  validate(type: string, version: number, data: unknown): unknown;
  /**
   * Lifts `data` of `fromVersion` to the latest version, one upcaster at a time, validating before
   * the first step and after every step. Unknown type or version, a missing upcaster or invalid data
   * throw a `SchemaError` that says which.
   */
  upcast(type: string, fromVersion: number, data: unknown): { readonly version: number; readonly data: unknown };
  /** Lowers `data` of `fromVersion` by one version (validated both sides); `undefined` if the old version cannot express it. */
  downcast(type: string, fromVersion: number, data: unknown): { readonly version: number; readonly data: unknown } | undefined;
  /**
   * The `events` map of a consumer (`defineConsumer`) that reads these types (default: all) in any
   * known version and hands its handler the latest.
   */
  consumerSchemas<K extends T[number]['type'] = T[number]['type']>(
    types?: readonly K[],
  ): { readonly [P in K]: UpcastingEntry<LatestSchemaOf<Extract<T[number], { type: P }>>> };
  /** The event store's upcasting hook. */
  upcaster(): Upcaster;
  /**
   * The relay's `alsoPublish` hook for a migration period: each event of these types, committed in
   * its latest version N, is also published as version N − 1 (downcast). Throws at once (at cold
   * start) if a type has no downcaster from its latest version.
   */
  downcasts(types: readonly T[number]['type'][]): AlsoPublish;
}

/** One registry of every event type a system publishes, with all their versions. */
export function defineRegistry<const T extends readonly RegisteredEventType[]>(types: T): EventRegistry<T> {
  const byType = new Map<string, RegisteredEventType>();
  for (const eventType of types) {
    if (byType.has(eventType.type)) throw new TypeError(`defineRegistry: event type ${eventType.type} is defined twice`);
    byType.set(eventType.type, eventType);
  }

  const get = (type: string): RegisteredEventType => {
    const found = byType.get(type);
    if (!found) throw new UnknownEventTypeError(type, [...byType.keys()]);
    return found;
  };

  const schemaOf = (eventType: RegisteredEventType, version: number): z.ZodType => {
    const schema = eventType.versions[version];
    if (!schema) throw new UnknownSchemaVersionError(eventType.type, version, `unknown version (known: ${eventType.versionNumbers.join(', ')})`);
    return schema;
  };

  const validate = (type: string, version: number, data: unknown): unknown => {
    const result = schemaOf(get(type), version).safeParse(data);
    if (!result.success) {
      throw new SchemaValidationError(
        type,
        version,
        result.error.issues.map((i) => `data.${i.path.join('.') || '(root)'}: ${i.message}`),
      );
    }
    return result.data;
  };

  const upcast = (type: string, fromVersion: number, data: unknown) => {
    const eventType = get(type);
    let version = fromVersion;
    let current = validate(type, version, data);
    while (version < eventType.latestVersion) {
      const step = eventType.upcasterFrom(version);
      if (!step) throw new UnknownSchemaVersionError(type, version, `no upcaster to version ${version + 1}`);
      current = validate(type, version + 1, step(current));
      version += 1;
    }
    return { version, data: current };
  };

  const downcast = (type: string, fromVersion: number, data: unknown) => {
    const eventType = get(type);
    const step = eventType.downcasterFrom(fromVersion);
    if (!step) throw new UnknownSchemaVersionError(type, fromVersion, `no downcaster to version ${fromVersion - 1}`);
    const lowered = step(validate(type, fromVersion, data));
    return lowered === undefined ? undefined : { version: fromVersion - 1, data: validate(type, fromVersion - 1, lowered) };
  };

  return {
    types,
    get,
    latest: (type) => {
      const eventType = get(type);
      return { version: eventType.latestVersion, schema: schemaOf(eventType, eventType.latestVersion) as never };
    },
    validate,
    upcast,
    downcast,
    consumerSchemas: (wanted) => {
      const names = wanted ?? types.map((t) => t.type);
      return Object.fromEntries(
        names.map((name) => {
          const eventType = get(name);
          const entry: UpcastingEntry = {
            version: eventType.latestVersion,
            schema: schemaOf(eventType, eventType.latestVersion),
            upcast: (fromVersion, data) => upcast(name, fromVersion, data).data,
          };
          return [name, entry];
        }),
      ) as never;
    },
    upcaster: () => (type, dataversion, data) => upcast(type, dataversion, data).data,
    downcasts: (wanted) => {
      for (const name of wanted) {
        const eventType = get(name);
        if (!eventType.downcasterFrom(eventType.latestVersion)) {
          throw new UnknownSchemaVersionError(name, eventType.latestVersion, `no downcaster to version ${eventType.latestVersion - 1}: it cannot be published side by side`);
        }
      }
      const selected = new Set<string>(wanted);
      return (event) => {
        if (!selected.has(event.type) || event.dataversion !== get(event.type).latestVersion) return [];
        const lowered = downcast(event.type, event.dataversion, event.data);
        return lowered ? [olderVersionCopy(event, lowered.version, lowered.data)] : [];
      };
    },
  };
}
