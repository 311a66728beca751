/**
 * A consumer's circuit closer, run every minute by an EventBridge schedule (the `EventConsumer`
 * construct creates it with `circuitBreaker`): while a circuit is open the consumer's mapping is
 * disabled, so nothing invokes the consumer; this half-opens the circuits whose cool-down is over and
 * re-enables the mapping. Idempotent: it may also be invoked directly (tests, operators).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { parseConfig } from '../config/parseConfig';
import { CIRCUIT_CLOSER_ENV, CircuitCloserConfigSchema } from './circuitBreakerConfig';
import { DynamoCircuitStore } from './DynamoCircuitStore';
import { EventSourceMappingSwitch } from './EventSourceMappingSwitch';
import { halfOpenCircuits, type CircuitRecovery } from './halfOpenCircuits';
import { instrument, withApiCallLog } from '../observability';

const config = parseConfig(CircuitCloserConfigSchema);
const logger = new Logger();
const store = new DynamoCircuitStore(instrument(new DynamoDBClient({})), config[CIRCUIT_CLOSER_ENV.tableName]);
const consumer = new EventSourceMappingSwitch(instrument(new LambdaClient({})), config[CIRCUIT_CLOSER_ENV.consumerFunctionName], config[CIRCUIT_CLOSER_ENV.queueArn]);

export const handler = withApiCallLog(async (): Promise<CircuitRecovery> => {
  const recovery = await halfOpenCircuits({ store, consumer });
  if (recovery.resumed) logger.info('circuits half-open: consumer resumed', { ...recovery });
  return recovery;
});
