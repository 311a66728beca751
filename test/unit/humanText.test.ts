import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HumanText } from '../../functions/toolkit/http/humanText';

const Name = HumanText(100);
const problem = (value: unknown) => {
  const parsed = Name.safeParse(value);
  return parsed.success ? undefined : parsed.error.issues.map((i) => i.message).join('; ');
};

describe('HumanText (a name or other text a person typed)', () => {
  it('accepts names in any script, with combining marks, emoji and joiners, trimmed', () => {
    for (const name of ['Ada Lovelace', 'José Ñúñez', 'Zoë', '李小龍', 'عبد الله', 'Ελένη', 'Nguyễn Thị', 'Anne‑Marie O’Neil', '👩‍🔬 Marie', 'a']) {
      expect(Name.parse(` ${name} `)).toBe(name);
    }
  });

  it('refuses a lone surrogate, saying so', () => {
    expect(problem('Ada \ud800')).toMatch(/lone surrogate/);
    expect(problem('\udfff Ada')).toMatch(/lone surrogate/);
  });

  it('refuses control characters, saying which', () => {
    expect(problem('Ada\u0000')).toMatch(/control character U\+0000/);
    expect(problem('Ada\nLovelace')).toMatch(/control character U\+000A/);
    expect(problem('Ada\u009b')).toMatch(/control character U\+009B/);
    expect(problem('Ada\u007f')).toMatch(/control character U\+007F/);
  });

  it('refuses bidirectional overrides and isolates (text that displays other than it reads), saying which', () => {
    for (const mark of ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) {
      expect(problem(`Ada${mark}nimda`)).toMatch(new RegExp(`bidirectional control U\\+${mark.codePointAt(0)!.toString(16).toUpperCase()}`));
    }
  });

  it('refuses empty, blank and too long text, and what is not a string', () => {
    expect(problem('')).toBeDefined();
    expect(problem('   ')).toBeDefined();
    expect(problem('x'.repeat(101))).toBeDefined();
    expect(Name.parse('x'.repeat(100))).toHaveLength(100);
    expect(problem(42)).toBeDefined();
  });

  it('given any string, then it is accepted exactly when it is well-formed, free of control and bidi characters, and 1–100 long once trimmed', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (raw) => {
        const trimmed = raw.trim();
        const bad = /\p{Cs}|\p{Cc}|[\u202a-\u202e\u2066-\u2069]/u.test(trimmed) || trimmed.length === 0 || trimmed.length > 100;
        expect(Name.safeParse(raw).success).toBe(!bad);
      }),
    );
  });
});
