/**
 * Poison markers: how the flows tag the malformed messages they mix in, and how the checker finds
 * them again in the dead-letter queues. A marker is delimited on both sides (`chaos-poison[<run>#<n>]`),
 * so that no marker is a substring of another: with the old `chaos-poison <run> <n>`, marker 1 matched
 * inside markers 10–19, and a run of 20 poison messages could never count more than 10 found. Pure.
 */

/** The prefix every marker of a run starts with (an operator's filter: "this run's poison"). */
export const poisonPrefix = (runId: string): string => `chaos-poison[${runId}#`;

/** The n-th poison marker of a run. Safe inside a JSON string and an SQS body as is (no quotes, no backslashes). */
export function poisonMarker(runId: string, n: number): string {
  if (/[\]#"\\]/.test(runId)) throw new Error(`a run id for poison markers may not contain ], #, " or \\: ${runId}`);
  if (!Number.isInteger(n) || n < 0) throw new Error(`a poison marker's number is a non-negative integer, not ${n}`);
  return `${poisonPrefix(runId)}${n}]`;
}

/** A dead-lettered message as the checker sees it: its body, and whether it carries a reason. */
export interface DeadLetter {
  readonly body: string;
  readonly hasReason: boolean;
}

/** The markers found in the dead letters (with a reason), and the ones that are not. */
export function findPoison(markers: readonly string[], deadLetters: readonly DeadLetter[]): { found: Set<string>; missing: string[] } {
  const found = new Set<string>();
  for (const letter of deadLetters) {
    if (!letter.hasReason) continue;
    for (const marker of markers) if (letter.body.includes(marker)) found.add(marker);
  }
  return { found, missing: markers.filter((m) => !found.has(m)) };
}
