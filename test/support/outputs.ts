import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../../localstack/cloud';

const FILE = path.join(ROOT, '.local', 'test-outputs.json');
type Outputs = Record<string, Record<string, string>>;

export function writeOutputs(outputs: Outputs): void {
  writeFileSync(FILE, JSON.stringify(outputs, null, 2));
}

/** The deployed stack's outputs (written by the global setup). */
export function stackOutputs(stack: string): Record<string, string> {
  const all = JSON.parse(readFileSync(FILE, 'utf8')) as Outputs;
  const outputs = all[stack];
  if (!outputs) throw new Error(`stack ${stack} was not deployed by the test setup`);
  return outputs;
}
