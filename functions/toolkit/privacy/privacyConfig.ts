import * as z from 'zod';

/** Environment variables of a function that seals, opens or erases; `PersonalDataVault` sets them. */
export const PRIVACY_ENV = {
  /** Wrapped data keys per subject, and erasure tombstones (partition key `subject`). */
  keyTableName: 'PRIVACY_KEY_TABLE_NAME',
  /** `envelope` (one service CMK, per-subject data keys) or `per-subject-kms-key`. */
  mode: 'PRIVACY_MODE',
  /** The service CMK (envelope mode), by ARN. */
  keyArn: 'PRIVACY_KEY_ARN',
  /** Alias prefix of the per-subject KMS keys (strict mode), e.g. `alias/coffee-customers`. */
  aliasPrefix: 'PRIVACY_ALIAS_PREFIX',
  cacheMaxEntries: 'PRIVACY_CACHE_MAX_ENTRIES',
  cacheMaxAgeSeconds: 'PRIVACY_CACHE_MAX_AGE_SECONDS',
  /** How often a cached key's subject is re-checked for a tombstone. */
  tombstoneCheckSeconds: 'PRIVACY_TOMBSTONE_CHECK_SECONDS',
} as const;

export const PRIVACY_MODES = ['envelope', 'per-subject-kms-key'] as const;
export type PrivacyMode = (typeof PRIVACY_MODES)[number];

export const PrivacyConfigSchema = z.object({
  [PRIVACY_ENV.keyTableName]: z.string().min(1),
  [PRIVACY_ENV.mode]: z.enum(PRIVACY_MODES).default('envelope'),
  [PRIVACY_ENV.keyArn]: z.string().min(1).optional(),
  [PRIVACY_ENV.aliasPrefix]: z.string().regex(/^alias\/[A-Za-z0-9/_-]+$/).optional(),
  [PRIVACY_ENV.cacheMaxEntries]: z.coerce.number().int().min(1).default(1000),
  [PRIVACY_ENV.cacheMaxAgeSeconds]: z.coerce.number().int().min(1).max(3600).default(300),
  [PRIVACY_ENV.tombstoneCheckSeconds]: z.coerce.number().int().min(1).max(300).default(5),
});
export type PrivacyConfig = z.infer<typeof PrivacyConfigSchema>;

/** The event `erase` publishes through the outbox, so read models drop what they hold. */
export const SUBJECT_ERASED = 'privacy.subject.erased';

/** The key table's shape (for the construct): one item per subject, its wrapped key or its tombstone. */
export const PRIVACY_KEY_TABLE = {
  /** Partition key (string): the subject id. No sort key. */
  partitionKey: 'subject',
} as const;

/** The shortest waiting period KMS allows before deleting a key (days); strict-mode erase uses it. */
export const KMS_MIN_PENDING_WINDOW_DAYS = 7;

/**
 * What a parsed config lacks for its mode (the schema alone cannot say): envelope mode needs the
 * service CMK, strict mode the alias prefix. Empty when complete.
 */
export function privacyConfigProblems(config: PrivacyConfig): string[] {
  const problems: string[] = [];
  if (config[PRIVACY_ENV.mode] === 'envelope' && !config[PRIVACY_ENV.keyArn]) {
    problems.push(`${PRIVACY_ENV.keyArn}: required in envelope mode`);
  }
  if (config[PRIVACY_ENV.mode] === 'per-subject-kms-key' && !config[PRIVACY_ENV.aliasPrefix]) {
    problems.push(`${PRIVACY_ENV.aliasPrefix}: required in per-subject-kms-key mode`);
  }
  return problems;
}

/** `POWERTOOLS_SERVICE_NAME` of an erase function: how the ops CLI tells it from sealers with an outbox. */
export const ERASE_FUNCTION_SERVICE_NAME = 'privacy-erase';
