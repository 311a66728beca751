import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SagaDefinition } from './defineSaga';
import { InvalidSagaMessageError } from './errors';
import { requestEnvelope } from './messages';

/**
 * Starts saga instances: sends a request to the saga's queue (`Saga.grantStart` allows it). Starting
 * the same `sagaId` twice starts it once. Returns the request's id.
 */
export class SagaClient<I> {
  constructor(
    private readonly definition: SagaDefinition<I>,
    private readonly options: { readonly sqs: SQSClient; readonly queueUrl: string; readonly clock?: () => Date },
  ) {}

  async start(sagaId: string, input: I, traceparent?: string): Promise<string> {
    const parsed = this.definition.input.safeParse(input);
    if (!parsed.success) throw new InvalidSagaMessageError(`input of saga ${this.definition.name} is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, sagaId);
    const envelope = requestEnvelope(this.definition.name, sagaId, parsed.data, (this.options.clock ?? (() => new Date()))(), traceparent);
    await this.options.sqs.send(new SendMessageCommand({ QueueUrl: this.options.queueUrl, MessageBody: JSON.stringify(envelope) }));
    return envelope.id;
  }
}
