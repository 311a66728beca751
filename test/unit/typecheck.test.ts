/**
 * The whole project type-checks under tsconfig.json (strict). Part of `npm test` as a test, so it
 * runs beside the cloud setup's deploy instead of before the suite (`npm run typecheck` alone).
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../localstack/cloud';

describe('the project', () => {
  it('type-checks in strict mode (tsc --noEmit), with no error', async () => {
    const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
    const result = await promisify(execFile)(tsc, ['--noEmit', '--pretty', 'false'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }).then(
      ({ stdout }) => ({ code: 0, output: stdout }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
    );

    expect(result.output.trim(), 'tsc reported errors').toBe('');
    expect(result.code).toBe(0);
  }, 240_000);
});
