import { it } from 'vitest';
import { endpointUrl } from '../../localstack/cloud';

/** Whether the local cloud is the embedded MiniStack (whose known gaps are listed in localstack/README.md). */
export const isMiniStack: boolean = await fetch(new URL('/_ministack/health', endpointUrl()))
  .then((r) => r.ok)
  .catch(() => false);

/**
 * An AWS behaviour the emulator gets wrong. On MiniStack the test is expected to fail (`it.fails`):
 * it stays in the suite, and turns red the day the emulator is fixed, so the workaround can go.
 * On any other endpoint it is an ordinary test.
 */
export function knownGap(title: string, workaround: string, fn: () => Promise<void>, timeout?: number): void {
  if (isMiniStack) it.fails(`KNOWN GAP on MiniStack: ${title} (workaround: ${workaround})`, fn, timeout);
  else it(title, fn, timeout);
}
