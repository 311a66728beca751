import * as z from 'zod';

/** Thrown at cold start when the environment does not satisfy a handler's config schema. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: string[]) {
    super(`Invalid configuration: ${issues.join('; ')}`);
  }
}

/**
 * Parses the environment once with a zod schema. A bad value fails the cold start with a message
 * that lists every bad key (never their values: they may be secrets).
 * This is the only place in `functions/` that reads `process.env`.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return result.data;
}

/** A JSON-encoded environment variable, validated by `inner`. */
export const jsonEnv = <S extends z.ZodType>(inner: S) =>
  z.string().transform((raw, ctx): z.infer<S> => {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
      return z.NEVER;
    }
    const parsed = inner.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
      return z.NEVER;
    }
    return parsed.data;
  });
