import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { OutgoingCommand, SagaTimer } from './advance';
import { InvalidSagaMessageError } from './errors';
import { timerEnvelope, toCommandMessage } from './messages';
import type { SagaMessenger } from './ports';

export interface SqsSagaMessengerOptions {
  readonly sqs: SQSClient;
  /** Target → its command queue URL. */
  readonly commandQueues: Readonly<Record<string, string>>;
  /** The saga's own queue (a standard queue: FIFO queues take no per-message delay). */
  readonly queueUrl: string;
  readonly clock?: () => Date;
}

/**
 * Commands go to the target's queue (a FIFO one gets the saga id as group and the command id as
 * deduplication id); timers go to the saga's own queue with a per-message delay (at most 900 s).
 */
export class SqsSagaMessenger implements SagaMessenger {
  private readonly clock: () => Date;
  constructor(private readonly options: SqsSagaMessengerOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  async sendCommand(command: OutgoingCommand, traceparent?: string): Promise<void> {
    const queueUrl = this.options.commandQueues[command.target];
    if (queueUrl === undefined) {
      throw new InvalidSagaMessageError(`saga ${command.saga} has no command queue for target ${command.target} (has: ${Object.keys(this.options.commandQueues).join(', ')})`, command.sagaId);
    }
    const fifo = queueUrl.endsWith('.fifo');
    await this.options.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(toCommandMessage(command, this.clock(), traceparent)),
        ...(fifo ? { MessageGroupId: command.sagaId, MessageDeduplicationId: command.commandId.slice(-128) } : {}),
      }),
    );
  }

  async schedule(saga: string, timer: SagaTimer, traceparent?: string): Promise<void> {
    await this.options.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.options.queueUrl,
        MessageBody: JSON.stringify(timerEnvelope(saga, timer, this.clock(), traceparent)),
        DelaySeconds: timer.delaySeconds,
      }),
    );
  }
}
