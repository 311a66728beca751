/**
 * Test consumer: applies `test.effect.requested` events by counting effects per event id, so tests
 * can see whether an event was applied once, twice or never. Its data asks for failures:
 * `failTimes` (throw a transient error on the first N deliveries), `poison` (refuse it), and
 * `crashOnFirstDelivery` (kill the process mid-batch, before anything is acknowledged); and an item
 * `broken#<label>` in the effects table makes every delivery of that label fail until it is removed.
 */
import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { parseConfig } from '../../../functions/toolkit/config/parseConfig';
import { defineConsumer, PoisonMessageError } from '../../../functions/toolkit/consumer';
import { EFFECT_REQUESTED, EffectRequestedSchema } from './effectEvents';


const config = parseConfig(z.object({ EFFECTS_TABLE_NAME: z.string().min(1) }));
const ddb = new DynamoDBClient({});

/** Appends to an item's list and counter (ADD is atomic, so concurrent deliveries all count). */
const record = (pk: string, values: Record<string, unknown>, counter: string) =>
  ddb.send(
    new UpdateItemCommand({
      TableName: config.EFFECTS_TABLE_NAME,
      Key: marshall({ pk }),
      UpdateExpression: `ADD #counter :one SET #log = list_append(if_not_exists(#log, :empty), :entry)`,
      ExpressionAttributeNames: { '#counter': counter, '#log': `${counter}Log` },
      ExpressionAttributeValues: marshall({ ':one': 1, ':empty': [], ':entry': [values] }),
    }),
  );

export const handler = defineConsumer({
  events: { [EFFECT_REQUESTED]: EffectRequestedSchema },
  handler: async (event, { attempt, lambdaContext }) => {
    await record(`seen#${event.id}`, { attempt, requestId: lambdaContext.awsRequestId }, 'seen');
    if (event.data.crashOnFirstDelivery && attempt === 1) {
      // The process dies mid-batch: the messages before this one were applied, none is acknowledged.
      process.exit(1);
    }
    // A test can break the "downstream" of one label (item broken#<label>) and fix it later.
    const broken = await ddb.send(new GetItemCommand({ TableName: config.EFFECTS_TABLE_NAME, Key: marshall({ pk: `broken#${event.data.label}` }), ConsistentRead: true }));
    if (broken.Item) throw new Error(`downstream broken for ${event.data.label}`);
    if (event.data.poison) throw new PoisonMessageError(`effect ${event.data.label} refused by the handler`, event.id);
    if (attempt <= event.data.failTimes) throw new Error(`transient failure on delivery ${attempt}`);
    // The effect, and the order in which effects happen per subject.
    await record(`applied#${event.id}`, { attempt, label: event.data.label, requestId: lambdaContext.awsRequestId }, 'applied');
    await record(`order#${event.subject}`, { label: event.data.label, sequence: Number(event.sequence) }, 'applied');
  },
});
