import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { parseConfig } from '../config/parseConfig';
import { Circuit, type CircuitDependencies } from './Circuit';
import { CircuitBreakerConfigSchema, circuitPolicyOf, CIRCUIT_ENV, functionNameOf } from './circuitBreakerConfig';
import { CONSUMER_ENV } from './consumerConfig';
import { DynamoCircuitStore } from './DynamoCircuitStore';
import { EventSourceMappingSwitch } from './EventSourceMappingSwitch';
import { instrument } from '../observability';

export type CircuitOptions = Pick<CircuitDependencies, 'countsAsFailure'>;

let shared: Omit<CircuitDependencies, 'countsAsFailure'> | undefined;
const circuits = new Map<string, Circuit>();

/**
 * The circuit breaker `name` of this consumer, for its calls to one other system:
 *
 * ```ts
 * const payments = circuit('payments'); // at module load, once per cold start
 * export const handler = defineConsumer({
 *   events: { … },
 *   handler: async (event) => { await payments.call(() => charge(event.data)); },
 * });
 * ```
 *
 * Needs the `EventConsumer` construct's `circuitBreaker` props (they set the thresholds, the grants
 * and the closer); without them the first call to `circuit` fails the cold start, naming what is
 * missing. One instance per name and process; the state is in the consumer's idempotency table.
 */
export function circuit(name: string, options: CircuitOptions = {}): Circuit {
  const existing = circuits.get(name);
  if (existing) return existing;
  shared ??= fromEnvironment();
  const created = new Circuit(name, { ...shared, ...options });
  circuits.set(name, created);
  return created;
}

function fromEnvironment(): Omit<CircuitDependencies, 'countsAsFailure'> {
  const config = parseConfig(CircuitBreakerConfigSchema);
  return {
    store: new DynamoCircuitStore(instrument(new DynamoDBClient({})), config[CONSUMER_ENV.idempotencyTableName]),
    consumer: new EventSourceMappingSwitch(instrument(new LambdaClient({})), functionNameOf(config), config[CIRCUIT_ENV.queueArn]),
    policy: circuitPolicyOf(config),
    logger: new Logger(),
  };
}
