import { DynamoDBClient, paginateListTables, paginateScan } from '@aws-sdk/client-dynamodb';
import { paginateListQueues, type SQSClient } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { peekMessages } from '../redrive/peekMessages';
import { findSealed } from './sealedValue';

/** Where copies of personal data can be: a table (items) or a queue (messages, peeked). */
export interface AuditStore {
  readonly kind: 'table' | 'queue';
  readonly name: string;
  /** Every record of the store as text (items as JSON, messages with their attributes). */
  records(): AsyncIterable<string>;
}

export interface StoreFindings {
  readonly kind: AuditStore['kind'];
  readonly name: string;
  readonly records: number;
  /** Sealed values of the subject found in the store. */
  readonly sealed: number;
  /** Of those, how many can still be opened (must be 0 after erasure). */
  readonly readable: number;
  /** Records containing one of the subject's known plaintext values (must be 0). */
  readonly plaintext: number;
}

export interface AuditReport {
  readonly subject: string;
  readonly stores: StoreFindings[];
  readonly readable: number;
  readonly plaintext: number;
  /** Nothing of the subject can be read anywhere. */
  readonly clean: boolean;
}

/**
 * Audits one subject across stores: for every sealed value of theirs, whether it can still be read
 * (`canOpen`: its data key can still be had — the field it is bound to is not needed for that), and
 * for every record whether it holds one of their known plaintext values.
 */
export async function auditSubject(input: {
  readonly subject: string;
  readonly stores: readonly AuditStore[];
  /** Whether a sealed value can still be read: its subject's data key of its version can be had. */
  readonly canOpen: (sealed: string) => Promise<boolean>;
  readonly knownValues?: readonly string[];
}): Promise<AuditReport> {
  const known = (input.knownValues ?? []).filter((v) => v.length >= 3);
  const stores: StoreFindings[] = [];
  for (const store of input.stores) {
    let records = 0;
    let sealed = 0;
    let readable = 0;
    let plaintext = 0;
    for await (const text of store.records()) {
      records++;
      for (const found of findSealed(text)) {
        if (found.subject !== input.subject) continue;
        sealed++;
        if (await input.canOpen(found.value)) readable++;
      }
      if (known.some((value) => text.includes(value))) plaintext++;
    }
    stores.push({ kind: store.kind, name: store.name, records, sealed, readable, plaintext });
  }
  const readable = stores.reduce((sum, s) => sum + s.readable, 0);
  const plaintext = stores.reduce((sum, s) => sum + s.plaintext, 0);
  return { subject: input.subject, stores, readable, plaintext, clean: readable === 0 && plaintext === 0 };
}

/** Every table and queue the account has in this region (a deployment's account: all of them). */
export async function discoverStores(ddb: DynamoDBClient, sqs: SQSClient, filter: (name: string) => boolean = () => true): Promise<AuditStore[]> {
  const stores: AuditStore[] = [];
  for await (const page of paginateListTables({ client: ddb }, {})) {
    for (const name of page.TableNames ?? []) {
      if (!filter(name)) continue;
      stores.push({
        kind: 'table',
        name,
        async *records() {
          for await (const scan of paginateScan({ client: ddb }, { TableName: name, ConsistentRead: true })) {
            for (const item of scan.Items ?? []) yield JSON.stringify(unmarshall(item), (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
          }
        },
      });
    }
  }
  for await (const page of paginateListQueues({ client: sqs }, {})) {
    for (const url of page.QueueUrls ?? []) {
      const name = url.slice(url.lastIndexOf('/') + 1);
      if (!filter(name)) continue;
      stores.push({
        kind: 'queue',
        name,
        async *records() {
          for (const message of await peekMessages(sqs, url, 1000)) yield JSON.stringify({ body: message.Body, attributes: message.MessageAttributes });
        },
      });
    }
  }
  return stores;
}
