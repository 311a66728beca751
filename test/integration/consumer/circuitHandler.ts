/**
 * Test consumer with a circuit breaker: each event calls a fake downstream system through
 * `circuit(<downstream>)`. The downstream is the item `downstream#<name>` of the effects table: every
 * call counts itself there (`calls`) and fails while the item's `status` is `down`. The handler
 * records each delivery (`seen#<event id>`, with the process that handled it: a new one after a cold
 * start) and each effect (`applied#<event id>`).
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { parseConfig } from '../../../functions/toolkit/config/parseConfig';
import { circuit, defineConsumer } from '../../../functions/toolkit/consumer';
import { DOWNSTREAM_CALL_REQUESTED, DownstreamCallRequestedSchema } from './circuitEvents';

const config = parseConfig(z.object({ EFFECTS_TABLE_NAME: z.string().min(1) }));
const ddb = new DynamoDBClient({});
const worker = randomUUID();

const record = (pk: string, values: Record<string, unknown>) =>
  ddb.send(
    new UpdateItemCommand({
      TableName: config.EFFECTS_TABLE_NAME,
      Key: marshall({ pk }),
      UpdateExpression: 'ADD #count :one SET #log = list_append(if_not_exists(#log, :empty), :entry)',
      ExpressionAttributeNames: { '#count': 'count', '#log': 'log' },
      ExpressionAttributeValues: marshall({ ':one': 1, ':empty': [], ':entry': [values] }),
    }),
  );

async function callDownstream(name: string): Promise<void> {
  const { Attributes } = await ddb.send(
    new UpdateItemCommand({ TableName: config.EFFECTS_TABLE_NAME, Key: marshall({ pk: `downstream#${name}` }), UpdateExpression: 'ADD calls :one', ExpressionAttributeValues: marshall({ ':one': 1 }), ReturnValues: 'ALL_NEW' }),
  );
  if (Attributes?.status?.S === 'down') throw new Error(`downstream ${name} is down`);
}

export const handler = defineConsumer({
  events: { [DOWNSTREAM_CALL_REQUESTED]: DownstreamCallRequestedSchema },
  handler: async (event, { attempt, lambdaContext }) => {
    await record(`seen#${event.id}`, { attempt, worker, requestId: lambdaContext.awsRequestId });
    await circuit(event.data.downstream).call(() => callDownstream(event.data.downstream));
    await record(`applied#${event.id}`, { attempt, worker });
  },
});
