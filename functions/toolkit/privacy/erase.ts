import * as z from 'zod';
import { ConcurrencyError, OUTBOX, type Outbox } from '../outbox';
import type { EraseOptions, ErasureReceipt, SubjectEraser, SubjectKeyStatus } from './ports';
import { PRIVACY_MODES, SUBJECT_ERASED } from './privacyConfig';

/** The data of `privacy.subject.erased`: read models drop or anonymise what they hold for `subject`. */
export const SubjectErasedData = z.object({
  subject: z.string().min(1),
  erasedAt: z.iso.datetime(),
  mode: z.enum(PRIVACY_MODES),
});
export type SubjectErasedData = z.infer<typeof SubjectErasedData>;

/** The outbox aggregate that records one subject's erasure (its one event is `privacy.subject.erased`). */
export const erasureAggregate = (subject: string) =>
  ({
    id: `privacy-subject#${subject}`,
    key: { [OUTBOX.partitionKey]: `PRIVACY_SUBJECT#${subject}`, [OUTBOX.sortKey]: 'ERASURE' },
  }) as const;

export interface ErasureOutcome extends ErasureReceipt {
  /** True when this call committed `privacy.subject.erased`; false when an earlier call had. */
  readonly published: boolean;
  /** The event's id, when this call committed it. */
  readonly eventId?: string;
}

/**
 * Erases a subject: the vault destroys their key (see `KeyVault.erase`), then `privacy.subject.erased`
 * is committed through the outbox exactly once. Idempotent and safe to retry after a crash at any
 * point: the event is committed as aggregate `privacy-subject#<subject>` at expected version 0, so the
 * commit is attempted on every call and a repeat ends in `ConcurrencyError`, which means "already
 * published" — unlike publishing only when the tombstone is new, a crash between the tombstone and
 * the commit cannot lose the event.
 *
 * Pass the `PersonalDataSealer` of the process as `vault` when it also seals or opens, so that its
 * cache drops the key at once.
 */
export async function erase(
  deps: { readonly vault: SubjectEraser; readonly outbox: Outbox },
  subject: string,
  options: EraseOptions & { readonly traceparent?: string },
): Promise<ErasureOutcome> {
  const receipt = await deps.vault.erase(subject, { erasedBy: options.erasedBy, ...(options.reason === undefined ? {} : { reason: options.reason }) });
  const aggregate = erasureAggregate(subject);
  const data: SubjectErasedData = { subject, erasedAt: receipt.erasedAt, mode: receipt.mode };
  try {
    const [event] = await deps.outbox.commit(
      [
        {
          id: aggregate.id,
          key: aggregate.key,
          expectedVersion: 0,
          state: { erasedAt: receipt.erasedAt, erasedBy: receipt.erasedBy },
          events: [{ type: SUBJECT_ERASED, data }],
        },
      ],
      options.traceparent === undefined ? {} : { traceparent: options.traceparent },
    );
    return { ...receipt, published: true, ...(event ? { eventId: event.id } : {}) };
  } catch (error) {
    if (error instanceof ConcurrencyError && error.aggregateId === aggregate.id) return { ...receipt, published: false };
    throw error;
  }
}

/**
 * When erasure is complete in backups too. Point-in-time recovery keeps the deleted wrapped key
 * restorable for the key table's recovery period (1–35 days, 35 by default); in the strict mode the
 * subject's KMS key is deleted at `kmsKey.deletionDate` (7 days), after which no restored copy opens.
 * On-demand and AWS Backup backups of the key table are not covered: they keep wrapped keys for their
 * own retention (envelope mode).
 */
export function erasedFromBackupsAt(receipt: ErasureReceipt, pitrRecoveryPeriodDays = 35): Date {
  const pitrEnds = new Date(Date.parse(receipt.erasedAt) + pitrRecoveryPeriodDays * 86_400_000);
  const kmsKey = receipt.kmsKey;
  const keyDeleted = kmsKey?.deletionDate ? new Date(kmsKey.deletionDate) : kmsKey?.state === 'Deleted' ? new Date(receipt.erasedAt) : undefined;
  return keyDeleted && keyDeleted < pitrEnds ? keyDeleted : pitrEnds;
}

/**
 * Of a deployment's vaults (one per service that seals personal data: each has its erase function),
 * the one that knows `subject`: it holds a key for them, or their tombstone. An operator erasing a
 * subject then need not know which service sealed their data. Throws when no vault knows the subject
 * (nothing was ever sealed for them: a typo is not "erased") or when several do (the caller must choose).
 */
export async function vaultKnowing<T>(subject: string, vaults: readonly T[], statusOf: (vault: T) => Promise<SubjectKeyStatus>, nameOf: (vault: T) => string): Promise<T> {
  const knowing: T[] = [];
  for (const vault of vaults) if ((await statusOf(vault)).state !== 'absent') knowing.push(vault);
  if (knowing.length === 1) return knowing[0]!;
  if (knowing.length === 0) throw new Error(`no vault knows subject ${subject}: nothing was sealed for them in ${vaults.map(nameOf).join(', ') || 'any vault'}`);
  throw new Error(`several vaults know subject ${subject}: choose one with --function: ${knowing.map(nameOf).join(', ')}`);
}
