import { describe, expect, it } from 'vitest';
import { findPoison, poisonMarker, poisonPrefix, type DeadLetter } from '../chaos/poison';

const RUN = 'chaosmxcl07fg';
const markers = Array.from({ length: 20 }, (_, n) => poisonMarker(RUN, n));
/** A dead-lettered poison message as the wallet flow writes it (a cut-off JSON body), with its reason. */
const letter = (marker: string, hasReason = true): DeadLetter => ({ body: `{"${marker}": `, hasReason });

describe('chaos poison markers', () => {
  it('no marker of a run is found inside another (1 is not inside 10–19)', () => {
    // assert
    for (const a of markers) for (const b of markers) if (a !== b) expect(b.includes(a), `${a} inside ${b}`).toBe(false);
    expect(markers[1]).toBe('chaos-poison[chaosmxcl07fg#1]');
    expect(markers.every((m) => m.startsWith(poisonPrefix(RUN)))).toBe(true);
  });

  it('finds all 20 of 20 dead-lettered poison messages (the old `chaos-poison <run> <n>` matching found at most 10)', () => {
    // arrange: the old markers and the old matching — the first poison whose marker the body includes
    const old = Array.from({ length: 20 }, (_, n) => `chaos-poison ${RUN} ${n}`);
    const oldFound = new Set(old.map((m) => `{"${m}": `).map((body) => old.find((m) => body.includes(m))));

    // act
    const { found, missing } = findPoison(markers, markers.map((m) => letter(m)));

    // assert
    expect(oldFound.size).toBe(10); // the bug the 2026 full run reported as "10 of 20 poison messages not in a DLQ"
    expect(found.size).toBe(20);
    expect(missing).toEqual([]);
  });

  it('reports exactly the markers that are missing, or dead-lettered without a reason', () => {
    // arrange: only 10–19 in the DLQ, and 19 without its reason attribute
    const letters = markers.slice(10).map((m, i) => letter(m, i !== 9));

    // act
    const { found, missing } = findPoison(markers, letters);

    // assert: the checker fails for 11 of them (markers 1 and 0 are not found inside 10–19)
    expect([...found].sort()).toEqual(markers.slice(10, 19).sort());
    expect(missing).toEqual([...markers.slice(0, 10), markers[19]]);
  });

  it('refuses a run id or number that would break the delimiting', () => {
    expect(() => poisonMarker('run#1', 2)).toThrow(/may not contain/);
    expect(() => poisonMarker('run]', 2)).toThrow(/may not contain/);
    expect(() => poisonMarker(RUN, -1)).toThrow(/non-negative/);
  });
});
