import { describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../chaos/faults';
import { PROFILES } from '../chaos/faults';
import { faultsByKind, formatReport, runChaos } from '../chaos/run';

describe('chaos, short profile (npm run chaos -- --short), on the local cloud', () => {
  it('keeps every invariant while every kind of fault is injected', async () => {
    // act: the global setup deployed the app already
    const began = Date.now();
    const timeline: string[] = [];
    const report = await runChaos({ profile: PROFILES.short, deploy: false, log: (line) => timeline.push(`+${Math.round((Date.now() - began) / 1000)} s ${line}`) });
    console.log(`${formatReport(report)}\n\nTimeline\n${timeline.join('\n')}`);

    // assert: every invariant checked something and found nothing wrong; every fault kind fired
    expect(report.invariants.length).toBeGreaterThan(0);
    for (const invariant of report.invariants) {
      expect(invariant, `${invariant.flow}: ${invariant.invariant}`).toMatchObject({ violations: 0 });
      expect(invariant.checked, `${invariant.flow}: ${invariant.invariant}`).toBeGreaterThan(0);
    }
    const byKind = faultsByKind(report);
    for (const kind of FAULT_KINDS) expect(byKind[kind], `faults of kind ${kind}`).toBeGreaterThan(0);
  }, 600_000);
});
