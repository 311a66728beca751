/**
 * Points chosen functions' AWS calls at the fault chain, and puts them back exactly. On the local
 * cloud a function-level `AWS_ENDPOINT_URL` wins over the emulator's own (MiniStack's local executor
 * spawns each worker with the emulator's environment overlaid with the function's variables), and
 * UpdateFunctionConfiguration with `Environment` recycles the function's warm workers (MiniStack
 * 1.5.33 invalidates the worker pool entry, as AWS recycles its execution environments), so the next
 * invocation runs with the new environment. The original variables are saved to a file before any
 * change, so a run that died half-way is undone by the next one (`restoreRouting`).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { GetFunctionConfigurationCommand, LambdaClient, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import * as z from 'zod';
import { CHAOS_DIR } from './microburst';

const ROUTING_FILE = path.join(CHAOS_DIR, 'routing.json');
const Saved = z.record(z.string(), z.record(z.string(), z.string()));

export interface Route {
  readonly functionName: string;
  /** The fault layer's listener for this function. */
  readonly endpoint: string;
  /** Extra variables (crash hook settings); NODE_OPTIONS is extended, not replaced. */
  readonly env: Record<string, string>;
}

async function waitUpdated(lambda: LambdaClient, functionName: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
    if (config.LastUpdateStatus !== 'InProgress' && config.State !== 'Pending') return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${functionName}: configuration update did not finish within 30 s`);
}

async function setVariables(lambda: LambdaClient, functionName: string, variables: Record<string, string>): Promise<void> {
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: functionName, Environment: { Variables: variables } }));
  await waitUpdated(lambda, functionName);
}

/** Routes each function through its fault-layer listener; returns once every update took effect. */
export async function applyRouting(lambda: LambdaClient, routes: readonly Route[]): Promise<void> {
  await restoreRouting(lambda); // an earlier run that died before restoring
  mkdirSync(CHAOS_DIR, { recursive: true });
  const saved: Record<string, Record<string, string>> = {};
  for (const route of routes) {
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: route.functionName }));
    saved[route.functionName] = { ...(config.Environment?.Variables ?? {}) };
  }
  writeFileSync(ROUTING_FILE, JSON.stringify(saved, null, 2));
  for (const route of routes) {
    const original = saved[route.functionName]!;
    const { NODE_OPTIONS: extraNodeOptions, ...extra } = route.env;
    const nodeOptions = [original.NODE_OPTIONS, extraNodeOptions].filter(Boolean).join(' ');
    await setVariables(lambda, route.functionName, { ...original, ...extra, AWS_ENDPOINT_URL: route.endpoint, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) });
  }
}

/** Puts every routed function's variables back exactly as they were; a no-op when nothing is routed. */
export async function restoreRouting(lambda: LambdaClient): Promise<string[]> {
  if (!existsSync(ROUTING_FILE)) return [];
  const saved = Saved.parse(JSON.parse(readFileSync(ROUTING_FILE, 'utf8')));
  for (const [functionName, variables] of Object.entries(saved)) await setVariables(lambda, functionName, variables);
  rmSync(ROUTING_FILE, { force: true });
  return Object.keys(saved);
}
