import * as z from 'zod';

const hex = (char: string) => `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
const LONE_SURROGATE = /\p{Cs}/u;
const CONTROL = /\p{Cc}/u;
/** Embeddings, overrides and isolates: they make text display in another order than it reads. */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/u;

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
      const found = (pattern: RegExp) => {
        const match = pattern.exec(text);
        return match && { char: hex(match[0]), at: match.index };
      };
      const surrogate = found(LONE_SURROGATE);
      if (surrogate) ctx.addIssue({ code: 'custom', message: `must be well-formed Unicode: a lone surrogate ${surrogate.char} at ${surrogate.at}` });
      const control = found(CONTROL);
      if (control) ctx.addIssue({ code: 'custom', message: `must not contain a control character: control character ${control.char} at ${control.at}` });
      const bidi = found(BIDI_CONTROL);
      if (bidi) ctx.addIssue({ code: 'custom', message: `must not contain a bidirectional override or isolate: bidirectional control ${bidi.char} at ${bidi.at}` });
    });
