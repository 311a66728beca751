import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm run demo (the fixed scenario of npm start, for CI)', () => {
  it('runs the shop on the deployed stack and exits 0: every order served or cancelled, nothing dead-lettered, the late-comer agrees, the customer erased, the wallet’s fraud case handled', () => {
    // The real command, as a user runs it: it reuses the running local cloud and redeploys (no change).
    const run = spawnSync('npm', ['run', 'demo', '--', '--orders', '6'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 420_000 });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output.slice(-4000)).toBe(0);
    expect(output).toMatch(/Every order served or cancelled, nothing dead-lettered/);
    expect(output).toMatch(/400 +InvalidCommand/);
    expect(output).toMatch(/201 \(retry\) +the same request again/);
    expect(output).toMatch(/409 +OrderIdReused/);
    expect(output).toMatch(/CLEAN/);
    expect(output).toMatch(/the anti-fraud service flagged the account/);
    expect(output).toMatch(/the fraud case handled/);
    expect(output).toMatch(/compensated/);
    expect(output).toMatch(/no money created or lost/);
  }, 480_000);
});
