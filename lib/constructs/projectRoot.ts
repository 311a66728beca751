import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: handlers are found relative to it, and its lockfile pins the bundles and the layer. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
