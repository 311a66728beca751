import * as z from 'zod';

/** The event the test consumers apply; its data asks for failures. */
export const EFFECT_REQUESTED = 'test.effect.requested';
export const EffectRequestedSchema = z.object({
  label: z.string(),
  failTimes: z.number().int().min(0).default(0),
  poison: z.boolean().default(false),
  crashOnFirstDelivery: z.boolean().default(false),
});
