import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { PROJECT_ROOT } from './projectRoot';

/** The modules the layer carries: bundles leave these out (`externalModules`) and load them from it. */
export const LAYER_MODULES = ['@aws-lambda-powertools/*', '@aws/lambda-invoke-store'];

/**
 * Powertools for AWS Lambda (TypeScript), the exact versions of this project's lockfile, as one
 * Lambda layer per stack that every `ToolkitFunction` uses. Each handler bundle then carries only its
 * own code and zod; the AWS SDK v3 comes with the `nodejs22.x` runtime.
 *
 * Why our own layer and not the layer AWS publishes for Powertools: the same bytes on AWS and on the
 * local cloud (which cannot pull another account's layer), and versions pinned by our lockfile.
 */
export class PowertoolsLayer extends lambda.LayerVersion {
  /** The stack's layer, created on first use. */
  static of(scope: Construct): PowertoolsLayer {
    const stack = Stack.of(scope);
    return (stack.node.tryFindChild('ToolkitPowertoolsLayer') as PowertoolsLayer | undefined) ?? new PowertoolsLayer(stack, 'ToolkitPowertoolsLayer');
  }

  private constructor(scope: Construct, id: string) {
    const { directory, packages } = assembleLayer();
    super(scope, id, {
      code: lambda.Code.fromAsset(directory),
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X],
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      description: `Runtime modules of the toolkit's functions: ${packages.join(', ')}`.slice(0, 256),
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}

/**
 * Copies the Powertools packages this project depends on, and their own dependencies (not the AWS
 * SDK: the runtime has it), into `nodejs/node_modules` of a folder named after their versions, which
 * is reused while the versions stay the same. Only what `require()` loads is copied: the CommonJS
 * build and package.json files, no type declarations, source maps or ES module build.
 */
export function assembleLayer(root = PROJECT_ROOT): { directory: string; packages: string[] } {
  const own = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const packages = closure(root, Object.keys(own.dependencies ?? {}).filter((name) => name.startsWith('@aws-lambda-powertools/')));
  const id = createHash('sha256').update(packages.join('\n')).digest('hex').slice(0, 16);
  const directory = path.join(root, '.local', 'layers', `powertools-${id}`);
  if (existsSync(path.join(directory, '.complete'))) return { directory, packages };

  const building = `${directory}.${process.pid}.tmp`;
  rmSync(building, { recursive: true, force: true });
  for (const spec of packages) {
    const name = spec.slice(0, spec.lastIndexOf('@'));
    cpSync(path.join(root, 'node_modules', name), path.join(building, 'nodejs', 'node_modules', name), {
      recursive: true,
      filter: (source) => !/(\.d\.[cm]?ts|\.map|[\\/]lib[\\/]esm)$/.test(source),
    });
  }
  writeFileSync(path.join(building, '.complete'), packages.join('\n'));
  mkdirSync(path.dirname(directory), { recursive: true });
  try {
    renameSync(building, directory);
  } catch {
    rmSync(building, { recursive: true, force: true }); // another synth finished the same folder first
  }
  return { directory, packages };
}

/** `name@version` of the packages and their runtime dependencies (outside the AWS SDK), sorted. */
function closure(root: string, names: string[]): string[] {
  const found = new Map<string, string>();
  const visit = (name: string): void => {
    if (found.has(name) || name.startsWith('@aws-sdk/')) return;
    const manifest = JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string; dependencies?: Record<string, string> };
    found.set(name, manifest.version);
    for (const dependency of Object.keys(manifest.dependencies ?? {})) visit(dependency);
  };
  names.forEach(visit);
  return [...found.entries()].map(([name, version]) => `${name}@${version}`).sort();
}
