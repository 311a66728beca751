import type { RegisteredEventType } from './defineRegistry';
import { dataJsonSchema, publishedSchemasOf, schemaKey, stableJson, type JSONSchema } from './jsonSchema';

export interface AsyncApiInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
}

/** Channel and operation ids: `wallet.accounts` → `walletAccounts`. */
const camel = (name: string): string => name.replace(/[.-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A published schema as a message payload: without `$id` and `$schema`, which belong to the file. */
function inlinePayload(schema: JSONSchema): JSONSchema {
  const { $id: _id, $schema: _schema, ...payload } = schema;
  return payload;
}

/** The envelope attributes of a message of `type` v`version`: CloudEvents 1.0 with our extensions. */
function envelopeHeaders(eventType: RegisteredEventType, version: number): JSONSchema {
  return {
    type: 'object',
    description: 'CloudEvents 1.0 attributes of the envelope (structured mode: they sit next to `data` in the JSON body; EventBridge: the envelope is `detail`).',
    required: ['specversion', 'id', 'source', 'type', 'subject', 'time', 'dataversion', 'partitionkey', 'sequence', 'traceparent'],
    properties: {
      specversion: { const: '1.0' },
      id: { type: 'string', description: 'UUID v7: the idempotency key and the FIFO deduplication id' },
      source: { const: eventType.source },
      type: { const: eventType.type },
      subject: { type: 'string', description: 'the aggregate id' },
      time: { type: 'string', format: 'date-time' },
      datacontenttype: { const: 'application/json' },
      dataversion: { const: version },
      partitionkey: { type: 'string', description: 'routing key and FIFO message group' },
      sequence: { type: 'string', pattern: '^[1-9][0-9]*$', description: 'the aggregate version that produced the event' },
      traceparent: { type: 'string', description: 'W3C trace context' },
    },
  };
}

/**
 * An AsyncAPI 3.0.0 document of a registry: one channel per `source` (its address is the
 * EventBridge `Source`), one `send` operation per channel, one message per type and version whose
 * payload is the JSON Schema of the envelope's `data` (personal fields marked `x-personal-data`),
 * the envelope attributes as headers. Deterministic (sorted). Pure.
 */
export function asyncApiDocument(types: readonly RegisteredEventType[], info: AsyncApiInfo): JSONSchema {
  const sources = [...new Set(types.map((t) => t.source))].sort();
  const messages: Record<string, JSONSchema> = {};
  const channels: Record<string, JSONSchema> = {};
  const operations: Record<string, JSONSchema> = {};
  for (const source of sources) {
    const channelId = camel(source);
    const channelMessages: Record<string, JSONSchema> = {};
    for (const eventType of types.filter((t) => t.source === source).sort((a, b) => a.type.localeCompare(b.type))) {
      for (const version of eventType.versionNumbers) {
        const key = schemaKey(eventType.type, version);
        const messageId = camel(key);
        messages[messageId] = {
          name: eventType.type,
          title: `${eventType.type} v${version}${version === eventType.latestVersion ? '' : ` (superseded by v${eventType.latestVersion}; upcast on read)`}`,
          ...(eventType.description ? { summary: eventType.description } : {}),
          contentType: 'application/json',
          headers: envelopeHeaders(eventType, version),
          payload: inlinePayload(dataJsonSchema(eventType, version)),
          'x-dataversion': version,
        };
        channelMessages[messageId] = { $ref: `#/components/messages/${messageId}` };
      }
    }
    channels[channelId] = {
      address: source,
      title: source,
      description: `Events with CloudEvents source ${source}, on the service's EventBridge bus (Source = ${source}, DetailType = type) and its ordered FIFO subscriptions.`,
      messages: channelMessages,
    };
    operations[`send${channelId[0]!.toUpperCase()}${channelId.slice(1)}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${channelId}` },
      messages: Object.keys(channelMessages).map((id) => ({ $ref: `#/channels/${channelId}/messages/${id}` })),
    };
  }
  return {
    asyncapi: '3.0.0',
    info: { title: info.title, version: info.version, ...(info.description ? { description: info.description } : {}) },
    defaultContentType: 'application/json',
    channels,
    operations,
    components: { messages },
  };
}

/**
 * Everything `npm run docs` writes, by path relative to the docs folder: `asyncapi.json` and
 * `schemas/<type>.v<N>.json`. Deterministic text. Pure.
 */
export function renderDocs(types: readonly RegisteredEventType[], info: AsyncApiInfo): Record<string, string> {
  const files: Record<string, string> = { 'asyncapi.json': stableJson(asyncApiDocument(types, info)) };
  for (const [key, schema] of Object.entries(publishedSchemasOf(types))) files[`schemas/${key}.json`] = stableJson(schema);
  return files;
}
