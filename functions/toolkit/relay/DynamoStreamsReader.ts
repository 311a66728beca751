import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Checksum, SourceData } from '@smithy/types';
import type { DynamoDBRecord } from 'aws-lambda';
import type { FailedStreamBatch, StreamBatchReader } from './ports';

export interface DynamoStreamsReaderOptions {
  readonly region: string;
  readonly credentials: () => Promise<AwsCredentialIdentity>;
  /** @default `https://streams.dynamodb.<region>.amazonaws.com` */
  readonly endpoint?: string;
  /** Empty pages in a row that mean an open shard's tip was reached. @default 5 */
  readonly maxEmptyPages?: number;
}

/** SHA-256 for SigV4 from node:crypto. */
class Sha256 implements Checksum {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    throw new Error('not supported');
  }
}

const toBuffer = (data: SourceData): Buffer =>
  typeof data === 'string' ? Buffer.from(data, 'utf8') : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);

/**
 * Reads a failed stream batch's records back from DynamoDB Streams: GetShardIterator at the batch's
 * first sequence number, then GetRecords until past its last one. The DynamoDB Streams API is called
 * as JSON 1.0 with SigV4 (service `dynamodb`), because the project does not depend on
 * `@aws-sdk/client-dynamodb-streams`; that client would replace this class one for one.
 * Throws when the records cannot be read (trimmed after 24 h, the stream disabled or replaced, …).
 */
export class DynamoStreamsReader implements StreamBatchReader {
  private readonly signer: SignatureV4;
  private readonly endpoint: URL;

  constructor(private readonly options: DynamoStreamsReaderOptions) {
    this.signer = new SignatureV4({ service: 'dynamodb', region: options.region, credentials: options.credentials, sha256: Sha256 });
    this.endpoint = new URL(options.endpoint ?? `https://streams.dynamodb.${options.region}.amazonaws.com`);
  }

  async read(batch: FailedStreamBatch): Promise<DynamoDBRecord[]> {
    const end = BigInt(batch.endSequenceNumber);
    const records = await this.recordsFrom(batch.streamArn, batch.shardId, batch.startSequenceNumber, end);
    const last = records.at(-1)?.dynamodb?.SequenceNumber;
    if (last === undefined || BigInt(last) < end) throw new Error(`stream records up to ${batch.endSequenceNumber} not found in shard ${batch.shardId}`);
    return records;
  }

  /**
   * A shard's records from `startSequenceNumber` on, up to `until` (inclusive) or the shard's current
   * end: the shard is closed, or `maxEmptyPages` pages in a row came back empty (an open shard's tip).
   */
  async recordsFrom(streamArn: string, shardId: string, startSequenceNumber: string, until?: bigint): Promise<DynamoDBRecord[]> {
    const { ShardIterator } = await this.call<{ ShardIterator?: string }>('GetShardIterator', {
      StreamArn: streamArn,
      ShardId: shardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: startSequenceNumber,
    });
    const records: DynamoDBRecord[] = [];
    let iterator = ShardIterator;
    let emptyPages = 0;
    while (iterator && emptyPages < (this.options.maxEmptyPages ?? 5)) {
      const page = await this.call<{ Records?: DynamoDBRecord[]; NextShardIterator?: string }>('GetRecords', { ShardIterator: iterator, Limit: 1000 });
      for (const record of page.Records ?? []) {
        if (until !== undefined && BigInt(record.dynamodb?.SequenceNumber ?? '0') > until) return records;
        records.push({ ...record, eventSourceARN: streamArn });
      }
      const last = records.at(-1)?.dynamodb?.SequenceNumber;
      if (until !== undefined && last !== undefined && BigInt(last) >= until) return records;
      emptyPages = page.Records?.length ? 0 : emptyPages + 1;
      iterator = page.NextShardIterator;
    }
    return records;
  }

  /** The stream's shards (DescribeStream), each with the first sequence number it holds. */
  async shards(streamArn: string): Promise<Array<{ shardId: string; startingSequenceNumber: string }>> {
    const { StreamDescription } = await this.call<{ StreamDescription?: { Shards?: Array<{ ShardId?: string; SequenceNumberRange?: { StartingSequenceNumber?: string } }> } }>('DescribeStream', { StreamArn: streamArn });
    return (StreamDescription?.Shards ?? []).map((shard) => ({ shardId: shard.ShardId ?? '', startingSequenceNumber: shard.SequenceNumberRange?.StartingSequenceNumber ?? '0' }));
  }

  private async call<T>(action: string, body: unknown): Promise<T> {
    const payload = JSON.stringify(body);
    const request = await this.signer.sign({
      method: 'POST',
      protocol: this.endpoint.protocol,
      hostname: this.endpoint.hostname,
      ...(this.endpoint.port ? { port: Number(this.endpoint.port) } : {}),
      path: this.endpoint.pathname || '/',
      query: {},
      headers: {
        host: this.endpoint.host,
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDBStreams_20120810.${action}`,
      },
      body: payload,
    });
    const response = await fetch(this.endpoint, { method: 'POST', headers: request.headers, body: payload });
    const text = await response.text();
    if (!response.ok) {
      const error = (JSON.parse(text || '{}') as { __type?: string; message?: string; Message?: string });
      const name = (error.__type ?? `HTTP${response.status}`).split('#').pop()!;
      throw Object.assign(new Error(`${action}: ${error.message ?? error.Message ?? response.statusText}`), { name });
    }
    return JSON.parse(text) as T;
  }
}
