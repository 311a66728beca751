/**
 * Fault profiles: `short` (high rates, for `npm test`) and `full` (moderate, for `npm run chaos`).
 * microburst injects modelled throttling and 5xx answers, connection resets and latency spikes;
 * our layer (faultLayer.ts) partial batch failures, lost responses, duplicate deliveries, transaction
 * conflicts and late answers of the transfer saga's steps; the crash hook (workerHook.cjs) function
 * crashes after a side effect; the flows mix in poison messages, and the wallet flow redrives its
 * ordered consumer's DLQ while the poisoned groups still receive events.
 */
import { TRANSFER_STEP_TIMEOUT_SECONDS, transferSaga } from '../../functions/wallet/transferSaga';
import { MAX_SQS_DELAY_SECONDS, type LateAnswers, type LayerRates } from './faultLayer';
import type { MicroburstRule } from './microburst';

/** How late a late answer is: 15 s past the saga step's timeout. */
export const LATE_ANSWER_SECONDS = Math.min(MAX_SQS_DELAY_SECONDS, TRANSFER_STEP_TIMEOUT_SECONDS + 15);

/**
 * The transfer's pivot, `confirm` (no compensation: once it may have happened, the saga may only go
 * forward): its command's first attempt is delayed past the step's timeout for some transfers, and
 * its answer held back past it for others (after the source's reservation was confirmed).
 */
function lateConfirms(every: number, commands: number, answers: number): LateAnswers {
  const confirm = transferSaga.steps.find((step) => step.name === 'confirm');
  if (!confirm) throw new Error(`the transfer saga has no step "confirm" (steps: ${transferSaga.steps.map((s) => s.name).join(', ')}): update the late-answer fault`);
  const { type } = confirm.command({ sagaId: 'x', input: { from: 'a', to: 'b', amount: { amount: 1, currency: 'EUR' } }, results: {} });
  return {
    delaySeconds: LATE_ANSWER_SECONDS,
    command: { type, every, max: commands },
    answer: { eventType: confirm.completedBy, correlateBy: transferSaga.correlateBy, every, max: answers },
  };
}

export interface FaultProfile {
  readonly name: 'short' | 'full';
  readonly events: number;
  readonly keys: number;
  readonly poison: number;
  readonly microburst: readonly MicroburstRule[];
  readonly layer: LayerRates;
  /** Crash after a side effect: probability per effectful call, and a cap on crashes in the run. */
  readonly crash: { readonly probability: number; readonly max: number };
}

/** Throttling and 5xx per service, in each service's own error codes (rendered by microburst from botocore's models). */
function serviceFaults(throttle: number, fiveHundred: number, sqsThrottle = throttle): MicroburstRule[] {
  return [
    { id: 'ddb-throttle', service: 'dynamodb', probability: throttle, error: { code: 'ProvisionedThroughputExceededException' } },
    { id: 'ddb-5xx', service: 'dynamodb', probability: fiveHundred, error: { code: 'InternalServerError', status: 500 } },
    { id: 'events-throttle', service: 'events', probability: throttle, error: { code: 'ThrottlingException', status: 400 } },
    { id: 'events-5xx', service: 'events', probability: fiveHundred, error: { code: 'InternalException', status: 500 } },
    // microburst sends this with the query-compatible code AWS.SimpleQueueService.RequestThrottled,
    // which the JS SDK does not retry (pinned in test/conformance/microburst.test.ts): our code's own
    // retries must absorb it.
    { id: 'sqs-throttle', service: 'sqs', probability: sqsThrottle, error: { code: 'RequestThrottled', status: 400 } },
    { id: 'sqs-5xx', service: 'sqs', probability: fiveHundred, error: { code: 'ServiceUnavailable', status: 503 } },
    { id: 'kms-throttle', service: 'kms', probability: throttle, error: { code: 'ThrottlingException', status: 400 } },
    { id: 'kms-5xx', service: 'kms', probability: fiveHundred, error: { code: 'KMSInternalException', status: 500 } },
  ];
}

export const PROFILES: Readonly<Record<FaultProfile['name'], FaultProfile>> = {
  short: {
    // Sized to keep the chaos test inside `npm test` near 3 minutes on a 2-core machine: the
    // emulator's FIFO consumers apply ~10 messages per poll, and every fault on the ordered path
    // holds a group back for its backoff, so more events mostly mean waiting.
    name: 'short',
    events: 200,
    keys: 25,
    poison: 6,
    microburst: [
      // SQS throttling is not retried by the SDK (see above): a consumer that cannot set its retry
      // delay falls back to the queue's 180 s visibility timeout, which would dominate a short run.
      ...serviceFaults(0.04, 0.02, 0.01),
      { id: 'reset', service: '*', probability: 0.008, reset: true },
      { id: 'latency-spike', service: '*', probability: 0.02, latency: { min: 300, max: 1_000 } },
    ],
    // Late answers: the 1st transfer reaching `confirm` gets its command delayed, the 1st, 3rd and
    // 5th of the others their answer held (a short run has ~15 transfers; a held answer can miss when
    // the transfer completes on another answer, e.g. to a command the queue delivered again later).
    // Early in the run, so that waiting them out overlaps the rest of the load.
    layer: { partialBatch: 0.12, lostResponse: 0.04, duplicate: 0.04, conflict: 0.05, lateAnswers: lateConfirms(2, 1, 3) },
    crash: { probability: 0.05, max: 4 },
  },
  full: {
    name: 'full',
    events: 10_000,
    keys: 100,
    poison: 40,
    microburst: [
      ...serviceFaults(0.02, 0.01),
      { id: 'reset', service: '*', probability: 0.005, reset: true },
      { id: 'latency-spike', service: '*', probability: 0.01, latency: { min: 300, max: 2_000 } },
    ],
    layer: { partialBatch: 0.05, lostResponse: 0.02, duplicate: 0.02, conflict: 0.02, lateAnswers: lateConfirms(50, 8, 8) },
    crash: { probability: 0.01, max: 30 },
  },
};

/** The fault kinds the run must show injected (> 0), for the table and the test. */
export const FAULT_KINDS = ['throttling', '5xx', 'reset', 'latency', 'partial-batch', 'lost-response', 'duplicate', 'conflict', 'late-answer', 'crash', 'poison', 'redrive-under-load'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Which kind a microburst rule's fired action belongs to (its rule ids above name the kind). */
export function kindOfMicroburstAction(action: string): FaultKind | undefined {
  if (action.startsWith('reset')) return 'reset';
  if (action.startsWith('latency')) return 'latency';
  if (/error:(ProvisionedThroughputExceededException|ThrottlingException|RequestThrottled)/.test(action)) return 'throttling';
  if (action.startsWith('error:')) return '5xx';
  return undefined;
}
