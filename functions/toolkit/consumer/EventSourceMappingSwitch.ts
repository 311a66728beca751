import { ListEventSourceMappingsCommand, ResourceInUseException, UpdateEventSourceMappingCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { sleep } from '../retry/backoff';
import type { ConsumerSwitch } from './circuitBreaker';
import { ConsumerError } from './errors';

/**
 * Stops and resumes a consumer by disabling and enabling its event-source mapping on its queue.
 * The mapping is found at run time (`ListEventSourceMappings` by function name and queue ARN) and
 * remembered: its UUID cannot be given to the function in its environment, as the mapping depends on
 * the function. Disabled, the mapping stops polling; messages wait in the queue, and an enabled
 * mapping goes on from where it was. A mapping still changing state (`ResourceInUseException`, e.g.
 * `Disabling`) is retried a few times.
 */
export class EventSourceMappingSwitch implements ConsumerSwitch {
  private uuids: Promise<string[]> | undefined;

  constructor(
    private readonly client: LambdaClient,
    private readonly functionName: string,
    private readonly queueArn: string,
    private readonly pause: (ms: number) => Promise<void> = sleep,
  ) {}

  stop(): Promise<void> {
    return this.setEnabled(false);
  }

  resume(): Promise<void> {
    return this.setEnabled(true);
  }

  private async setEnabled(enabled: boolean): Promise<void> {
    for (const uuid of await this.mappings()) {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.client.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: enabled }));
          break;
        } catch (error) {
          if (!(error instanceof ResourceInUseException) || attempt >= 4) throw error;
          await this.pause(attempt * 1000);
        }
      }
    }
  }

  private mappings(): Promise<string[]> {
    this.uuids ??= this.list().catch((error: unknown) => {
      this.uuids = undefined; // not cached: the next call asks again
      throw error;
    });
    return this.uuids;
  }

  private async list(): Promise<string[]> {
    const uuids: string[] = [];
    let marker: string | undefined;
    do {
      const page = await this.client.send(new ListEventSourceMappingsCommand({ FunctionName: this.functionName, EventSourceArn: this.queueArn, Marker: marker }));
      uuids.push(...(page.EventSourceMappings ?? []).flatMap((mapping) => (mapping.UUID ? [mapping.UUID] : [])));
      marker = page.NextMarker || undefined;
    } while (marker);
    if (uuids.length === 0) throw new ConsumerError(`no event-source mapping of ${this.functionName} on ${this.queueArn}`);
    return uuids;
  }
}
