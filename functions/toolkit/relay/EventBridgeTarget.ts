import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { EventEnvelope } from '../envelope';
import type { EventTarget, FailedEntry } from './ports';

/** PutEvents limits: 10 entries and 256 KB per call (AWS docs, "Amazon EventBridge quotas"). */
export const PUT_EVENTS_LIMITS = { maxEntries: 10, maxBytes: 256 * 1024 } as const;

/** Publishes envelopes to a custom bus: `Detail` = envelope, `Source` = source, `DetailType` = type. */
export class EventBridgeTarget implements EventTarget {
  readonly name: string;
  readonly maxEntries = PUT_EVENTS_LIMITS.maxEntries;
  readonly maxBytes = PUT_EVENTS_LIMITS.maxBytes;
  /** Fan-out consumers choose a version by their rule's pattern (`detail.dataversion`). */
  readonly receivesCopies = true;

  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {
    this.name = `bus:${busName}`;
  }

  /** Entry size as EventBridge counts it: Source, DetailType and Detail bytes (Time adds 14). */
  sizeOf(event: EventEnvelope): number {
    return 14 + Buffer.byteLength(event.source) + Buffer.byteLength(event.type) + Buffer.byteLength(JSON.stringify(event));
  }

  async publish(events: readonly EventEnvelope[]): Promise<FailedEntry[]> {
    const entries: PutEventsRequestEntry[] = events.map((event) => ({
      EventBusName: this.busName,
      Source: event.source,
      DetailType: event.type,
      Detail: JSON.stringify(event),
      Time: new Date(event.time),
      Resources: [],
    }));
    const response = await this.client.send(new PutEventsCommand({ Entries: entries }));
    if (!response.FailedEntryCount) return [];
    // Result entries are in request order; a failed one has an ErrorCode and no EventId.
    return (response.Entries ?? []).flatMap((entry, i) =>
      entry.ErrorCode ? [{ id: events[i]!.id, code: entry.ErrorCode, message: entry.ErrorMessage ?? '' }] : [],
    );
  }
}
