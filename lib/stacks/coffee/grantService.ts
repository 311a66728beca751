import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { TransactionalOutbox } from '../../constructs/TransactionalOutbox';

/**
 * A service function works on its own table: it commits through the outbox (`PutItem`, with the
 * `OUTBOX_*` environment) and, for what its decisions read or the facts it records, exactly `actions`.
 */
export function grantService(outbox: TransactionalOutbox, fn: lambda.Function, ...actions: string[]): void {
  outbox.grantCommit(fn);
  if (actions.length > 0) outbox.table.grant(fn, ...actions);
}
