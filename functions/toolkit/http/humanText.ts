import * as z from 'zod';

const hex = (char: string) => `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** What a name must not contain: the pattern, and how a refusal names what was found. */
const REFUSED: ReadonlyArray<readonly [RegExp, string]> = [
  [/\p{Cs}/u, 'must be well-formed Unicode: a lone surrogate'],
  [/\p{Cc}/u, 'must not contain a control character: control character'],
  // Embeddings, overrides and isolates: they make text display in another order than it reads.
  [/[\u202a-\u202e\u2066-\u2069]/u, 'must not contain a bidirectional override or isolate: bidirectional control'],
];

/**
 * Text a person typed and others will read: a name, a payee. Trimmed, 1–`max` characters, and
 * well-formed: no lone surrogate (it cannot be stored as UTF-8 and compared), no control character,
 * no bidirectional embedding, override or isolate (which make a name display as another). Any script,
 * combining marks, emoji and joiners are fine. Each refusal says what was found and where.
 */
export const HumanText = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .superRefine((text, ctx) => {
      for (const [pattern, message] of REFUSED) {
        const match = pattern.exec(text);
        if (match) ctx.addIssue({ code: 'custom', message: `${message} ${hex(match[0])} at ${match.index}` });
      }
    });
