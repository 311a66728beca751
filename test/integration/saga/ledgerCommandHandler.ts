/**
 * Test-only: the ledger service's command handler. Takes the saga's commands from the ledger's
 * command queue, decides on the account (test/integration/saga/ledger.ts) and commits the account
 * with its events through the ledger's outbox; the relay publishes them to the bus the saga listens on.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseConfig } from '../../../functions/toolkit/config/parseConfig';
import { ConcurrencyError, Outbox, OUTBOX_ENV, OutboxConfigSchema, readAggregate } from '../../../functions/toolkit/outbox';
import { decodeSagaCommand } from '../../../functions/toolkit/saga/messages';
import { accountKey, AccountSchema, decide, LedgerCommandSchemas } from './ledger';

const config = parseConfig(OutboxConfigSchema);
const client = new DynamoDBClient({});
const tableName = config[OUTBOX_ENV.tableName];
const outbox = new Outbox({ client, tableName, source: config[OUTBOX_ENV.source] });
const logger = new Logger({ serviceName: 'test-ledger' });
const processor = new BatchProcessor(EventType.SQS);

async function apply(record: SQSRecord): Promise<void> {
  const command = decodeSagaCommand(record.body, LedgerCommandSchemas);
  for (let attempt = 1; attempt <= 5; attempt++) {
    const loaded = await readAggregate<unknown>(client, tableName, accountKey(command.data.accountId));
    if (!loaded) throw new Error(`account ${command.data.accountId} does not exist`);
    const { state, events } = decide(command, AccountSchema.parse(loaded.state));
    logger.info('command decided', { commandId: command.commandId, type: command.type, events: events.map((e) => e.type) });
    if (events.length === 0) return; // told to ignore it: never answer
    try {
      await outbox.commit([{ id: state.accountId, key: accountKey(state.accountId), expectedVersion: loaded.version, state, events }], command.traceparent ? { traceparent: command.traceparent } : {});
      return;
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
    }
  }
  throw new Error(`account ${command.data.accountId} kept changing; will retry`);
}

export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => processPartialResponse(event, apply, processor, { context });
