import * as z from 'zod';

/** The event the test consumers apply; its data asks for failures. */
export const EFFECT_REQUESTED = 'test.effect.requested';
export const EffectRequestedSchema = z.object({
  label: z.string(),
  failTimes: z.number().int().min(0).default(0),
  poison: z.boolean().default(false),
  /** Kill the process right after the effect was written, before the message is acknowledged (first delivery only). */
  crashAfterEffect: z.boolean().default(false),
});
