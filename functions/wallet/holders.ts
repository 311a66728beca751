import { SubjectErasedError } from '../toolkit/privacy/errors';
import type { FieldSealer } from '../toolkit/privacy/ports';
import type { WalletState } from './wallet';

/**
 * Whether the user `sub` holds the account: its sealed holder id opens to `sub`. An account that is not
 * open, was opened before holder ids were recorded, or whose holder was erased is held by nobody.
 */
export async function holds(state: WalletState, sub: string, sealer: Pick<FieldSealer, 'open'>): Promise<boolean> {
  if (!state.opened || state.holderUserId === undefined || sub === '') return false;
  try {
    // Sealed as JSON under its field's name (`sealPersonalFields`).
    return JSON.parse(await sealer.open(state.holderUserId, 'userId')) === sub;
  } catch (error) {
    if (error instanceof SubjectErasedError) return false;
    throw error;
  }
}
