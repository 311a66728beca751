// Preloaded into the routed Lambda workers by NODE_OPTIONS=--require (test/chaos only; never deployed).
//
// 1. SQS through the fault chain. The SQS client sends each call to its QueueUrl's host when that
//    differs from the endpoint it resolved (@aws-sdk/middleware-sdk-sqs `useQueueUrlAsEndpoint`,
//    on unless an `endpoint` is passed in code), so a function-level AWS_ENDPOINT_URL does not steer
//    SQS calls: the emulator's queue URLs name the emulator itself. On AWS the queue URL's host *is*
//    the SQS endpoint, so this is only about the test rig: requests to CHAOS_UPSTREAM (the emulator)
//    are sent to CHAOS_REDIRECT (this function's fault-layer listener) instead.
// 2. Crash after the side effect: right after a successful effectful call (TransactWriteItems,
//    PutItem, PutEvents, SendMessageBatch) the process exits with probability CHAOS_CRASH_P, before
//    the invocation can acknowledge. The total number of crashes across all workers is capped by
//    CHAOS_CRASH_MAX, counted in the file CHAOS_CRASH_LOG (one line per crash).
'use strict';
const fs = require('node:fs');
const http = require('node:http');

const redirectFrom = process.env.CHAOS_UPSTREAM ? new URL(process.env.CHAOS_UPSTREAM) : undefined;
const redirectTo = process.env.CHAOS_REDIRECT ? new URL(process.env.CHAOS_REDIRECT) : undefined;
const p = Number(process.env.CHAOS_CRASH_P || 0);
const max = Number(process.env.CHAOS_CRASH_MAX || 0);
const logFile = process.env.CHAOS_CRASH_LOG;
const EFFECTS = /\.(TransactWriteItems|PutItem|PutEvents|SendMessageBatch)$/;
const crashing = p > 0 && max > 0 && Boolean(logFile);

function header(headers, name) {
  for (const key of Object.keys(headers || {})) if (key.toLowerCase() === name) return String(headers[key]);
  return '';
}

function maybeCrash(req, target) {
  if (!crashing || !EFFECTS.test(target)) return;
  req.on('response', (res) => {
    if (res.statusCode !== 200 || Math.random() >= p) return;
    let crashes = 0;
    try {
      crashes = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).length;
    } catch {}
    if (crashes >= max) return;
    fs.appendFileSync(logFile, `${process.env.AWS_LAMBDA_FUNCTION_NAME || '?'} ${target.split('.')[1]}\n`);
    process.exit(137);
  });
}

if (redirectFrom && redirectTo || crashing) {
  const original = http.request;
  http.request = function chaosRequest(...args) {
    const optionsIndex = typeof args[0] === 'object' && args[0] !== null && !(args[0] instanceof URL) ? 0 : 1;
    let options = args[optionsIndex];
    const target = options && typeof options === 'object' ? header(options.headers, 'x-amz-target') : '';
    if (redirectFrom && redirectTo && target.startsWith('AmazonSQS.')) {
      const host = options.hostname || options.host;
      if (host === redirectFrom.hostname && String(options.port) === redirectFrom.port) {
        options = { ...options, hostname: redirectTo.hostname, host: redirectTo.hostname, port: Number(redirectTo.port) };
        args[optionsIndex] = options;
      }
    }
    const req = original.apply(this, args);
    if (target) maybeCrash(req, target);
    return req;
  };
}
