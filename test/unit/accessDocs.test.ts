import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COFFEE_ACCESS } from '../../functions/coffee/access';
import { WALLET_ACCESS } from '../../functions/wallet/access';
import { accessTable } from '../../scripts/docs';

const README = readFileSync(path.join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

describe('the README’s route table', () => {
  it('is exactly the services’ access rules (regenerate it with accessTable() in scripts/docs.ts)', () => {
    expect(README).toContain(accessTable());
  });

  it('names every route of both APIs once (a rule added in code shows up here or fails)', () => {
    for (const route of [...Object.keys(COFFEE_ACCESS), ...Object.keys(WALLET_ACCESS)]) {
      expect(README.split('\n').filter((line) => line.startsWith('|') && line.includes(`\`${route}\``)), route).toHaveLength(1);
    }
  });
});
