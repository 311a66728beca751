import type * as z from 'zod';

/** The schemas of one event type: version number (1, 2, …) → zod schema of `data`. */
export type VersionSchemas = { readonly [version: number]: z.ZodType };

/** Version N + 1, for typing upcasters (versions 1 to 9 are typed exactly). */
type Next = { 1: 2; 2: 3; 3: 4; 4: 5; 5: 6; 6: 7; 7: 8; 8: 9; 9: 10 };
/** Version N − 1, for typing downcasters. */
type Prev = { 2: 1; 3: 2; 4: 3; 5: 4; 6: 5; 7: 6; 8: 7; 9: 8; 10: 9 };

/** The highest version of `V` (1 to 10). */
export type LatestVersion<V extends VersionSchemas> = 10 extends keyof V ? 10 : 9 extends keyof V ? 9 : 8 extends keyof V ? 8 : 7 extends keyof V ? 7
  : 6 extends keyof V ? 6 : 5 extends keyof V ? 5 : 4 extends keyof V ? 4 : 3 extends keyof V ? 3 : 2 extends keyof V ? 2 : 1;

/** Upcasters by the version they lift *from*: `{ 1: (v1) => v2 }`. Pure: no clock, no ids, no I/O. */
export type Upcasters<V extends VersionSchemas> = {
  readonly [N in keyof V & keyof Next]?: Next[N] extends keyof V ? (data: z.output<V[N]>) => z.input<V[Next[N]]> : never;
};

/**
 * Downcasters by the version they lower *from*: `{ 2: (v2) => v1 }`, for publishing an old version
 * side by side during a migration. Return `undefined` when the old version cannot express this
 * event (no copy is published for it then). Pure.
 */
export type Downcasters<V extends VersionSchemas> = {
  readonly [N in keyof V & keyof Prev]?: Prev[N] extends keyof V ? (data: z.output<V[N]>) => z.input<V[Prev[N]]> | undefined : never;
};

export interface EventTypeDefinition<T extends string, V extends VersionSchemas> {
  /** The CloudEvents `type`, e.g. `wallet.transaction.added`. */
  readonly type: T;
  /** The CloudEvents `source` that publishes it (EventBridge `Source`; the AsyncAPI channel), e.g. `wallet.accounts`. */
  readonly source: string;
  /** What happened, for the generated docs. */
  readonly description?: string;
  /** Every version ever published, from 1 up, none ever edited once published. */
  readonly versions: V;
  /** One upcaster from each version but the latest to the next. */
  readonly upcast?: NoInfer<Upcasters<V>>;
  readonly downcast?: NoInfer<Downcasters<V>>;
}

/** One event type of a registry: its schemas per version and the casters between them. */
export interface EventType<T extends string = string, V extends VersionSchemas = VersionSchemas> extends EventTypeDefinition<T, V> {
  /** The version numbers, ascending. */
  readonly versionNumbers: readonly number[];
  /** The highest version: what consumers see. */
  readonly latestVersion: number;
  /** Upcaster from `version` to `version + 1`, if any (untyped view for the registry). */
  upcasterFrom(version: number): ((data: unknown) => unknown) | undefined;
  /** Downcaster from `version` to `version − 1`, if any (untyped view for the registry). */
  downcasterFrom(version: number): ((data: unknown) => unknown) | undefined;
}

/**
 * Declares an event type with all its versions:
 *
 * ```ts
 * const TransactionAdded = defineEventType({
 *   type: 'wallet.transaction.added',
 *   source: 'wallet.accounts',
 *   versions: { 1: TransactionAddedV1, 2: TransactionAddedV2 },
 *   upcast: { 1: transactionAddedV1ToV2 },
 * });
 * ```
 *
 * Nothing is checked here but the shape: a missing upcaster or a published schema edited in place is
 * what `checkCompatibility` (and its test) reports.
 */
export function defineEventType<const T extends string, const V extends VersionSchemas>(definition: EventTypeDefinition<T, V>): EventType<T, V> {
  const versionNumbers = Object.keys(definition.versions)
    .map(Number)
    .sort((a, b) => a - b);
  const problems: string[] = [];
  if (!/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/.test(definition.type)) problems.push('`type` must be a dotted, lower-case event name like wallet.transaction.added');
  if (versionNumbers.length === 0) problems.push('`versions` must hold at least version 1');
  if (versionNumbers.some((v) => !Number.isSafeInteger(v) || v < 1)) problems.push('version numbers must be positive integers');
  if (problems.length > 0) throw new TypeError(`defineEventType(${definition.type}): ${problems.join('; ')}`);
  const upcasters = (definition.upcast ?? {}) as Readonly<Record<number, ((data: unknown) => unknown) | undefined>>;
  const downcasters = (definition.downcast ?? {}) as Readonly<Record<number, ((data: unknown) => unknown) | undefined>>;
  return {
    ...definition,
    versionNumbers,
    latestVersion: versionNumbers[versionNumbers.length - 1]!,
    upcasterFrom: (version) => upcasters[version],
    downcasterFrom: (version) => downcasters[version],
  };
}
