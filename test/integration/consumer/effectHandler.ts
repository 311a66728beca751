/**
 * Test consumer: applies `test.effect.requested` events by counting effects per event id (a
 * deliberately non-idempotent ADD), so tests can see whether an event was applied once, twice or
 * never. Its data asks for failures: `failTimes` (throw a transient error on the first N
 * deliveries), `poison` (refuse it), and `crashAfterEffect` (kill the process right after the effect
 * was written, before anything is acknowledged); an item `broken#<label>` in the effects table makes
 * every delivery of that label fail until it is removed.
 *
 * `EFFECT_MODE` says how the effect is made to happen once: `inbox` (the toolkit's default: the
 * effect and the inbox item in one transaction) or `powertools` (Powertools idempotency records
 * around a plain write: what the toolkit did before the inbox, kept to show its crash window).
 */
import { DynamoDBClient, GetItemCommand, UpdateItemCommand, type Update } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { parseConfig } from '../../../functions/toolkit/config/parseConfig';
import { defineConsumer, PoisonMessageError } from '../../../functions/toolkit/consumer';
import { transactWrite } from '../../../functions/toolkit/outbox';
import { EFFECT_REQUESTED, EffectRequestedSchema } from './effectEvents';

const config = parseConfig(z.object({ EFFECTS_TABLE_NAME: z.string().min(1), EFFECT_MODE: z.enum(['inbox', 'powertools']).default('inbox') }));
const ddb = new DynamoDBClient({});

/** Appends to an item's list and counter (ADD is atomic, so concurrent deliveries all count). */
const append = (pk: string, values: Record<string, unknown>, counter: string): Update => ({
  TableName: config.EFFECTS_TABLE_NAME,
  Key: marshall({ pk }),
  UpdateExpression: `ADD #counter :one SET #log = list_append(if_not_exists(#log, :empty), :entry)`,
  ExpressionAttributeNames: { '#counter': counter, '#log': `${counter}Log` },
  ExpressionAttributeValues: marshall({ ':one': 1, ':empty': [], ':entry': [values] }),
});

export const handler = defineConsumer({
  events: { [EFFECT_REQUESTED]: EffectRequestedSchema },
  idempotency: config.EFFECT_MODE,
  handler: async (event, { attempt, lambdaContext, inbox }) => {
    await ddb.send(new UpdateItemCommand(append(`seen#${event.id}`, { attempt, requestId: lambdaContext.awsRequestId }, 'seen')));
    // A test can break the "downstream" of one label (item broken#<label>) and fix it later.
    const broken = await ddb.send(new GetItemCommand({ TableName: config.EFFECTS_TABLE_NAME, Key: marshall({ pk: `broken#${event.data.label}` }), ConsistentRead: true }));
    if (broken.Item) throw new Error(`downstream broken for ${event.data.label}`);
    if (event.data.poison) throw new PoisonMessageError(`effect ${event.data.label} refused by the handler`, event.id);
    if (attempt <= event.data.failTimes) throw new Error(`transient failure on delivery ${attempt}`);
    // The effect, and the order in which effects happen per subject.
    const effect = [
      append(`applied#${event.id}`, { attempt, label: event.data.label, requestId: lambdaContext.awsRequestId }, 'applied'),
      append(`order#${event.subject}`, { label: event.data.label, sequence: Number(event.sequence) }, 'applied'),
    ];
    if (config.EFFECT_MODE === 'inbox') await transactWrite(ddb, effect.map((update) => ({ Update: update })), { inbox });
    else for (const update of effect) await ddb.send(new UpdateItemCommand(update));
    if (event.data.crashAfterEffect && attempt === 1) {
      // The worst moment: the effect is written, the message not acknowledged; it comes back once
      // its visibility timeout (and any in-progress lease) has expired.
      process.exit(1);
    }
  },
});
