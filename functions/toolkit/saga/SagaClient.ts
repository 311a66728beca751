import { ConditionalCheckFailedException, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import type { SagaDefinition } from './defineSaga';
import { sagaKey } from './DynamoSagaStore';
import { InvalidSagaMessageError, SagaConflictError } from './errors';
import { requestEnvelope } from './messages';
import { digestOf } from '../inbox/inbox';

export interface SagaClientOptions {
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  /** The saga's queue (`SAGA_CLIENT_QUEUE_URL`, set by `Saga.grantStart`). */
  readonly queueUrl: string;
  /** The saga's table (`SAGA_CLIENT_TABLE_NAME`, set by `Saga.grantStart`). */
  readonly tableName: string;
  readonly clock?: () => Date;
}

/** Key of the request that started (or will start) an instance: next to its state, in the saga's table. */
export const sagaRequestKey = (sagaId: string): { pk: string; sk: string } => ({ ...sagaKey(sagaId), sk: 'REQUEST' });

/**
 * Starts saga instances (`Saga.grantStart` allows it). A saga id names one request: `start` first
 * records it (`SAGA#<id>` / `REQUEST` in the saga's table, with a digest of the validated input),
 * on condition that no request with this id was recorded or that it had the same input; then it
 * sends the start message to the saga's queue. So the same request again — a client's retry, also
 * after a failed send — sends it again (the saga starts once), and the same id with other input
 * throws `SagaConflictError`, also when two such requests race before the saga has started.
 */
export class SagaClient<I> {
  constructor(
    private readonly definition: SagaDefinition<I>,
    private readonly options: SagaClientOptions,
  ) {}

  /** Returns the start message's id. */
  async start(sagaId: string, input: I, traceparent?: string): Promise<string> {
    const id = (this.definition.sagaId ?? z.string().min(1)).safeParse(sagaId);
    if (!id.success) throw new InvalidSagaMessageError(`the id of a ${this.definition.name} is not valid: ${issues(id.error)}`);
    const parsed = this.definition.input.safeParse(input);
    if (!parsed.success) throw new InvalidSagaMessageError(`input of saga ${this.definition.name} is not valid: ${issues(parsed.error)}`, sagaId);
    const { pk, sk } = sagaRequestKey(sagaId);
    const digest = digestOf(parsed.data);
    try {
      await this.options.dynamodb.send(
        new PutItemCommand({
          TableName: this.options.tableName,
          Item: { pk: { S: pk }, sk: { S: sk }, saga: { S: this.definition.name }, digest: { S: digest } },
          ConditionExpression: 'attribute_not_exists(pk) OR digest = :digest',
          ExpressionAttributeValues: { ':digest': { S: digest } },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new SagaConflictError(this.definition.name, sagaId, { cause: error });
      throw error;
    }
    const envelope = requestEnvelope(this.definition.name, sagaId, parsed.data, (this.options.clock ?? (() => new Date()))(), traceparent);
    await this.options.sqs.send(new SendMessageCommand({ QueueUrl: this.options.queueUrl, MessageBody: JSON.stringify(envelope) }));
    return envelope.id;
  }
}

const issues = (error: z.ZodError): string => error.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`).join('; ');
