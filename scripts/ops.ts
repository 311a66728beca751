/**
 * `npm run ops -- <command>`: operate a deployment's dead-letter queues.
 *   dlq list                 every DLQ with its depth and the oldest message's reason
 *   dlq show <queue>         its messages with their reasons and decoded envelopes
 *   redrive <queue>          back to the source queue (FIFO: group by group, in order, un-parking each)
 *   republish <relay dlq> [--reconcile]
 *                            re-send the events of stream batches the relay gave up on, from the outbox,
 *                            in order, through the relay's own core and cursors
 *   privacy erase <subject>  destroy a data subject's key (through the deployment's erase function)
 *   privacy audit <subject>  scan every table and queue: sealed copies, still readable?, known plaintext?
 *   replay <queue> --log <table> [--log …] [--type …]
 *                            send every logged event (outbox tables), per key in order, to a consumer's queue
 * Works against AWS as configured in the environment, or the local cloud when AWS_ENDPOINT_URL is set.
 */
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DescribeContinuousBackupsCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient, paginateListFunctions, type FunctionConfiguration } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { userDirectoryOf, UserDirectoryClient } from './demo/identities';
import { DEAD_LETTER_ATTRIBUTES, PARKED_GROUP_ATTRIBUTE, ParkedGroups, REDRIVE_ATTRIBUTE } from '../functions/toolkit/consumer';
import { OUTBOX_ENV } from '../functions/toolkit/outbox/outboxConfig';
import { auditSubject, discoverStores, ERASE_FUNCTION_SERVICE_NAME, erasedFromBackupsAt, PersonalDataSealer, PRIVACY_ENV, vaultKnowing, type ErasureReceipt } from '../functions/toolkit/privacy';
import { discoverDeadLetterQueues, findDeadLetterQueue, peekMessages, redrive, RedriveInterruptedError } from '../functions/toolkit/redrive';
import { parseConfig } from '../functions/toolkit/config/parseConfig';
import { DynamoStreamsReader, RELAY_ENV, RelayConfigSchema, relayDependencies, republish, type RelayNotice } from '../functions/toolkit/relay';
import { replay, ReplayError } from '../functions/toolkit/replay';

const sqs = new SQSClient({});
const lambda = new LambdaClient({});

const attribute = (message: Message, name: string) => message.MessageAttributes?.[name]?.StringValue;
const depthOf = async (url: string) => {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
};

function describeMessage(message: Message): string {
  let envelope: Record<string, unknown> | undefined;
  try {
    const body = JSON.parse(message.Body ?? '') as Record<string, unknown>;
    envelope = (body['detail-type'] ? body.detail : body) as Record<string, unknown>;
  } catch {
    envelope = undefined;
  }
  const reason = attribute(message, DEAD_LETTER_ATTRIBUTES.errorName) ?? attribute(message, 'errorName') ?? '(no reason recorded)';
  const lines = [
    `message ${message.MessageId}${message.Attributes?.MessageGroupId ? `  group ${attribute(message, PARKED_GROUP_ATTRIBUTE) ?? message.Attributes.MessageGroupId}` : ''}${attribute(message, PARKED_GROUP_ATTRIBUTE) ? ` (failed again in redrive ${attribute(message, REDRIVE_ATTRIBUTE) ?? '?'})` : ''}`,
    `  reason   ${reason}: ${attribute(message, DEAD_LETTER_ATTRIBUTES.errorMessage) ?? attribute(message, 'reason') ?? ''}`,
    `  attempts ${attribute(message, DEAD_LETTER_ATTRIBUTES.attemptCount) ?? '?'}  first seen ${attribute(message, DEAD_LETTER_ATTRIBUTES.firstSeenAt) ?? '?'}  dead-lettered ${attribute(message, DEAD_LETTER_ATTRIBUTES.deadLetteredAt) ?? '?'}`,
  ];
  if (envelope && typeof envelope === 'object') {
    lines.push(`  event    ${envelope.type ?? '?'} id=${envelope.id ?? '?'} subject=${envelope.subject ?? '?'} sequence=${envelope.sequence ?? '?'} source=${envelope.source ?? '?'}`);
    lines.push(`  data     ${JSON.stringify(envelope.data ?? envelope).slice(0, 400)}`);
  } else {
    lines.push(`  body     ${(message.Body ?? '').slice(0, 400)} (not JSON)`);
  }
  return lines.join('\n');
}

const program = new Command().name('ops').description('Operate the dead-letter queues of an event-driven deployment');
const dlq = program.command('dlq').description('dead-letter queues');

dlq
  .command('list')
  .description('every dead-letter queue with its depth and the oldest message’s reason')
  .action(async () => {
    const queues = await discoverDeadLetterQueues(sqs, lambda);
    if (queues.length === 0) return console.log('No dead-letter queues found.');
    for (const queue of queues) {
      const depth = await depthOf(queue.url);
      let oldest = '';
      if (depth > 0) {
        const [first] = (await peekMessages(sqs, queue.url, 10)).sort((a, b) => Number(a.Attributes?.SentTimestamp ?? 0) - Number(b.Attributes?.SentTimestamp ?? 0));
        if (first) oldest = `oldest: ${attribute(first, DEAD_LETTER_ATTRIBUTES.errorName) ?? attribute(first, 'errorName') ?? '?'}: ${(attribute(first, DEAD_LETTER_ATTRIBUTES.errorMessage) ?? attribute(first, 'reason') ?? '').slice(0, 120)}`;
      }
      console.log(`${String(depth).padStart(6)}  ${queue.name}  (${queue.kind}${queue.sourceQueueUrl ? ` ← ${queue.sourceQueueUrl.slice(queue.sourceQueueUrl.lastIndexOf('/') + 1)}` : ''})  ${oldest}`);
    }
  });

dlq
  .command('show <queue>')
  .description('the messages of a dead-letter queue (name or URL), with reasons and decoded envelopes; nothing is consumed')
  .option('-n, --max <count>', 'how many messages at most', '20')
  .action(async (name: string, options: { max: string }) => {
    const queue = await findDeadLetterQueue(sqs, lambda, name);
    const messages = await peekMessages(sqs, queue.url, Number(options.max));
    console.log(`${queue.name}: ${messages.length} message(s) shown\n`);
    for (const message of messages) console.log(`${describeMessage(message)}\n`);
  });

program
  .command('redrive <queue>')
  .description('move a dead-letter queue’s messages back to their source queue; FIFO group by group, in order; safe to interrupt and run again')
  .action(async (name: string) => {
    const queue = await findDeadLetterQueue(sqs, lambda, name);
    if (!queue.sourceQueueUrl) throw new Error(`${queue.name} has no source queue to redrive to (${queue.kind === 'relay' ? 'its records come from a stream: replay them from the outbox' : 'unknown source'})`);
    const total = await depthOf(queue.url);
    const bar = new SingleBar({ format: `redrive ${queue.name} [{bar}] {value}/{total} {step}`, hideCursor: true });
    bar.start(Math.max(total, 1), 0, { step: '' });
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    try {
      const report = await redrive({
        sqs,
        deadLetterQueueUrl: queue.url,
        sourceQueueUrl: queue.sourceQueueUrl,
        ...(queue.stateTableName ? { parkedGroups: new ParkedGroups(new DynamoDBClient({}), queue.stateTableName) } : {}),
        runId: `run-${Date.now().toString(36)}`,
        signal: controller.signal,
        onProgress: ({ moved, step }) => bar.update(moved, { step }),
      });
      bar.stop();
      console.log(`Moved ${report.moved} message(s) by ${report.method}.`);
      if (report.releasedGroups.length) console.log(`Un-parked group(s): ${report.releasedGroups.join(', ')}`);
      for (const stuck of report.stuckGroups) console.log(`Still parked: group ${stuck.group} (failed again: ${stuck.reason})`);
    } catch (error) {
      bar.stop();
      if (error instanceof RedriveInterruptedError) {
        console.error(error.message);
        process.exitCode = 130;
        return;
      }
      throw error;
    }
  });

program
  .command('republish <queue>')
  .description(
    'for a relay’s dead-letter queue (name or URL): re-send the events of the stream batches the relay mapping gave up on (AWS’s on-failure records), ' +
      'from the outbox, per stream in sequence order, through the relay’s own core and cursors (nothing already published is sent again); ' +
      'the keys come from the stream records while the stream holds them, else the whole log is reconciled; the relay’s own dead letters are left and reported',
  )
  .option('--reconcile', 'also relay every stream of the whole log above its cursor (e.g. after restoring an item a stream was held behind)')
  .action(async (name: string, options: { reconcile?: boolean }) => {
    const queue = await findDeadLetterQueue(sqs, lambda, name);
    if (queue.kind !== 'relay' || !queue.functionName) throw new Error(`${queue.name} is not an outbox relay’s dead-letter queue (republish is for those; use redrive for a consumer’s)`);
    const fn = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: queue.functionName }));
    const config = parseConfig(RelayConfigSchema, fn.Environment?.Variables ?? {});
    const dynamodb = new DynamoDBClient({});
    const notice = (n: RelayNotice) => {
      if (n.kind === 'gap') console.log(`  held: ${n.subject} (partition key ${n.partitionkey}) stops before sequence ${n.missing}, ${n.why}; not published past it: ${n.heldBack.join(', ')}`);
      if (n.kind === 'cursor-write-failed') console.log(`  cursors of ${n.streams} stream(s) not written (they lag: a later run republishes, absorbed downstream)`);
    };
    const report = await republish({
      sqs,
      dynamodb,
      deadLetterQueueUrl: queue.url,
      tableName: config[RELAY_ENV.outboxTableName],
      reconcileWholeLog: options.reconcile === true,
      relay: relayDependencies(config, { dynamodb, eventBridge: new EventBridgeClient({}), sqs }, { onNotice: notice }),
      streams: new DynamoStreamsReader(new DynamoDBStreamsClient({})),
      onProgress: (step) => console.log(`  ${step}`),
    });
    console.log(
      `${queue.name}: ${report.failedBatches} failed stream batch(es), ${report.resolvedFromStream} resolved from the stream` +
        `${report.reconciledWholeLog ? ', the whole log reconciled' : ''}; ${report.keys} partition key(s) relayed; delivered ${JSON.stringify(report.delivered)}; ${report.deleted} deleted.`,
    );
    for (const left of report.left) console.log(`left ${left.messageId} (${left.kind}): ${left.detail}`);
    if (report.left.some((l) => l.kind === 'not-republished')) process.exitCode = 1;
  });

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

program
  .command('replay <queue>')
  .description('send every event of the given outbox tables (the services’ event logs) to a consumer’s queue (name or URL), key by key in commit order, so a late-joining consumer catches up; safe to run again and alongside live traffic')
  .requiredOption('--log <table>', 'an outbox table to read (repeat for several)', collect)
  .option('--type <type>', 'only events of this type (repeat for several)', collect, [])
  .action(async (name: string, options: { log: string[]; type: string[] }) => {
    const queueUrl = /^https?:\/\//.test(name) ? name : (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
    const bar = new SingleBar({ format: `replay → ${queueUrl.slice(queueUrl.lastIndexOf('/') + 1)} [{bar}] {value} sent of {total} read  {keys} key(s)`, hideCursor: true });
    bar.start(1, 0, { keys: 0 });
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    try {
      const report = await replay({
        dynamodb: new DynamoDBClient({}),
        sqs,
        logs: options.log,
        queueUrl,
        types: options.type,
        signal: controller.signal,
        onProgress: ({ keys, events, sent }) => {
          bar.setTotal(Math.max(events, 1));
          bar.update(sent, { keys });
        },
      });
      bar.stop();
      console.log(`Read ${report.events} event(s) of ${report.keys} key(s) from ${options.log.length} log(s); sent ${report.sent}${options.type.length ? ` (types: ${options.type.join(', ')})` : ''}.`);
    } catch (error) {
      bar.stop();
      if (error instanceof ReplayError) {
        console.error(`${error.message} (sent ${error.progress.sent} of ${error.progress.events} read)`);
        process.exitCode = controller.signal.aborted ? 130 : 1;
        return;
      }
      throw error;
    }
  });

/** The deployment's erase function(s), made by PersonalDataVault.addEraseFunction. */
/** The erase function of the vault that knows `subject` (or the one named): each service that seals personal data has its own. */
async function eraseFunction(subject: string, name?: string): Promise<FunctionConfiguration> {
  const found: FunctionConfiguration[] = [];
  for await (const page of paginateListFunctions({ client: lambda }, {})) {
    for (const fn of page.Functions ?? []) {
      const env = fn.Environment?.Variables ?? {};
      const isEraser = env.POWERTOOLS_SERVICE_NAME === ERASE_FUNCTION_SERVICE_NAME && env[PRIVACY_ENV.keyTableName] && env[OUTBOX_ENV.tableName];
      if (isEraser && (!name || fn.FunctionName === name)) found.push(fn);
    }
  }
  if (found.length === 0) throw new Error('no erase function found (a PersonalDataVault with addEraseFunction)');
  if (name) return found[0]!;
  return vaultKnowing(subject, found, (fn) => PersonalDataSealer.fromEnvironment({ env: fn.Environment?.Variables ?? {} }).vault.status(subject), (fn) => fn.FunctionName ?? '?');
}

async function backupsClearAt(fn: FunctionConfiguration, receipt: ErasureReceipt): Promise<Date> {
  const table = fn.Environment?.Variables?.[PRIVACY_ENV.keyTableName];
  const backups = await new DynamoDBClient({}).send(new DescribeContinuousBackupsCommand({ TableName: table })).catch(() => undefined);
  const days = backups?.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.RecoveryPeriodInDays ?? 35;
  return erasedFromBackupsAt(receipt, days);
}

const privacy = program.command('privacy').description('personal data: erase a data subject, audit every copy');

privacy
  .command('erase <subject>')
  .description('erase a data subject: destroy their key and publish privacy.subject.erased (idempotent)')
  .requiredOption('--by <who>', 'who asks (kept in the tombstone; not personal data)')
  .option('--reason <text>', 'why, e.g. a ticket id')
  .option('--function <name>', 'the erase function to use (default: the one whose vault knows the subject, e.g. a coffee customer or a wallet account)')
  .action(async (subject: string, options: { by: string; reason?: string; function?: string }) => {
    const fn = await eraseFunction(subject, options.function);
    const response = await lambda.send(new InvokeCommand({ FunctionName: fn.FunctionName, Payload: JSON.stringify({ subject, erasedBy: options.by, reason: options.reason }) }));
    const result = JSON.parse(Buffer.from(response.Payload ?? []).toString() || '{}');
    if (response.FunctionError || result.status !== 'erased') throw new Error(`erase failed: ${JSON.stringify(result)}`);
    console.log(`${subject}: ${result.alreadyErased ? 'already erased' : 'erased'} at ${result.erasedAt} (${result.mode} mode)${result.published ? `; published privacy.subject.erased ${result.eventId}` : ''}`);
    console.log(`Erased from backups too from ${(await backupsClearAt(fn, result)).toISOString()} (point-in-time recovery of the key table${result.kmsKey ? ', or the KMS key deletion' : ''}).`);
  });

privacy
  .command('audit <subject>')
  .description('scan every table and queue for the subject: sealed copies, whether any can be read, and known plaintext; exits 1 if anything is readable')
  .option('--known <values...>', 'plaintext values of the subject to search for (e.g. their name and email)', [])
  .option('--prefix <name>', 'only tables and queues whose name starts with this')
  .option('--function <name>', 'the erase function whose vault to use (default: the one that knows the subject)')
  .action(async (subject: string, options: { known: string[]; prefix?: string; function?: string }) => {
    const fn = await eraseFunction(subject, options.function);
    const sealer = PersonalDataSealer.fromEnvironment({ env: fn.Environment?.Variables ?? {} });
    const stores = await discoverStores(new DynamoDBClient({}), sqs, (name) => !options.prefix || name.startsWith(options.prefix));
    const report = await auditSubject({ subject, stores, canOpen: (sealed) => sealer.canOpen(sealed), knownValues: options.known });
    for (const store of report.stores.filter((s) => s.sealed > 0 || s.plaintext > 0)) {
      console.log(`${store.kind.padEnd(5)} ${store.name}: ${store.sealed} sealed value(s), ${store.readable} readable, ${store.plaintext} record(s) with plaintext`);
    }
    console.log(`${report.stores.length} stores scanned (${report.stores.reduce((n, s) => n + s.records, 0)} records). Readable: ${report.readable}. Plaintext: ${report.plaintext}.`);
    const status = await sealer.vault.status(subject);
    if (status.state === 'erased') {
      const receipt = { subject, erasedAt: status.erasedAt, erasedBy: '', alreadyErased: true, mode: 'envelope' } as ErasureReceipt;
      console.log(`Erased at ${status.erasedAt}; erased from backups too from ${(await backupsClearAt(fn, receipt)).toISOString()}.`);
    }
    console.log(report.clean ? 'CLEAN: nothing of the subject can be read.' : 'NOT CLEAN: some of the subject’s data can still be read.');
    if (!report.clean) process.exitCode = 1;
  });

program
  .command('sign-in <stack> <username>')
  .description('an access token for a user of the stack’s user pool (CoffeeShop or Wallet), as an administrator provisions them: created if new, put in the roles, given a fresh password, signed in; prints the token (valid 1 hour)')
  .option('--role <roles...>', 'the user’s roles (groups), e.g. customer, barista, account-holder', [])
  .action(async (stack: string, username: string, options: { role: string[] }) => {
    const { Stacks = [] } = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: stack }));
    const outputs = Object.fromEntries((Stacks[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']));
    const prefix = Object.keys(outputs).find((key) => key.endsWith('UserPoolId'))?.slice(0, -'UserPoolId'.length) ?? '';
    const user = await new UserDirectoryClient(userDirectoryOf(outputs, prefix)).user(username, options.role);
    console.log(await user.accessToken());
  });

try {
  await program.parseAsync();
} catch (error) {
  console.error(`ops: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
