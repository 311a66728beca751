import { ConditionalCheckFailedException, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { RESULT, type BenchPath } from '../benchNames';

/**
 * Records that `eventId` reached `path`, once: a conditional put, so redeliveries change nothing.
 * One write per event, so that recording weighs as little as possible on what is measured.
 */
export async function recordResult(
  dynamodb: DynamoDBClient,
  tableName: string,
  result: { path: BenchPath; eventId: string; phase: string; committedAt: number; appliedAt: number },
): Promise<void> {
  try {
    await dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: marshall({ phase: result.phase, sk: RESULT.itemKey(result.path, result.eventId), path: result.path, committedAt: result.committedAt, appliedAt: result.appliedAt }),
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return; // a duplicate delivery: already recorded
    throw error;
  }
}
