import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type DynamoDBStreamsClient, type _Record } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import type { FailedStreamBatch, StreamBatchReader } from './ports';

export interface DynamoStreamsReaderOptions {
  /** Empty pages in a row that mean an open shard's tip was reached. @default 5 */
  readonly maxEmptyPages?: number;
}

/**
 * Reads a failed stream batch's records back from DynamoDB Streams: GetShardIterator at the batch's
 * first sequence number, then GetRecords until past its last one. Throws when the records cannot be
 * read (trimmed after 24 h, the stream disabled or replaced, …).
 */
export class DynamoStreamsReader implements StreamBatchReader {
  constructor(
    private readonly client: DynamoDBStreamsClient,
    private readonly options: DynamoStreamsReaderOptions = {},
  ) {}

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
    const { ShardIterator } = await this.client.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: startSequenceNumber }));
    const records: DynamoDBRecord[] = [];
    let iterator = ShardIterator;
    let emptyPages = 0;
    while (iterator && emptyPages < (this.options.maxEmptyPages ?? 5)) {
      const page = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      for (const record of page.Records ?? []) {
        if (until !== undefined && BigInt(record.dynamodb?.SequenceNumber ?? '0') > until) return records;
        records.push(asLambdaRecord(record, streamArn));
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
    const { StreamDescription } = await this.client.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    return (StreamDescription?.Shards ?? []).map((shard) => ({ shardId: shard.ShardId ?? '', startingSequenceNumber: shard.SequenceNumberRange?.StartingSequenceNumber ?? '0' }));
  }
}

/** A DynamoDB Streams API record as the relay's mapping hands it over (epoch seconds, the stream's ARN). */
function asLambdaRecord(record: _Record, streamArn: string): DynamoDBRecord {
  const created = record.dynamodb?.ApproximateCreationDateTime;
  return {
    ...record,
    eventSourceARN: streamArn,
    dynamodb: { ...record.dynamodb, ...(created ? { ApproximateCreationDateTime: created.getTime() / 1000 } : {}) },
  } as DynamoDBRecord;
}
