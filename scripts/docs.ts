/**
 * `npm run docs`: generates the event catalogue from the schema registries — docs/asyncapi.json
 * (AsyncAPI 3.0.0) and docs/schemas/<type>.v<N>.json (JSON Schema of each version's `data`) —
 * deterministically, so the output is committed. It refuses to overwrite a published schema that
 * changed in place (a breaking change): bump the version and add an upcaster instead.
 *
 * `npm run docs -- --check` writes nothing and fails if the committed docs are not up to date.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkCompatibility, renderDocs, type AsyncApiInfo, type JSONSchema, type RegisteredEventType } from '../functions/toolkit/schemas';
import { walletRegistry } from '../functions/wallet/schemas';
import { COFFEE_ACCESS } from '../functions/coffee/access';
import { WALLET_ACCESS } from '../functions/wallet/access';
import { isPublic, type AccessPolicy } from '../functions/toolkit/http/access';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DOCS_DIR = path.join(ROOT, 'docs');

/** Every registry of the reference system, and the catalogue's title. */
export const DOCS: { readonly types: readonly RegisteredEventType[]; readonly info: AsyncApiInfo } = {
  types: [...walletRegistry.types],
  info: {
    title: 'Event-driven serverless toolkit: reference system events',
    version: '1.0.0',
    description: 'Every event type and version the reference system publishes, generated from its schema registries by `npm run docs`. Envelopes are CloudEvents 1.0 (structured mode); older versions are upcast on read.',
  },
};

/**
 * The README's "who may call what" table, from the services' access rules (the same data the stacks
 * and handlers use): a test checks the README contains exactly this.
 */
export function accessTable(services: Readonly<Record<string, AccessPolicy>> = { 'coffee shop': COFFEE_ACCESS, wallet: WALLET_ACCESS }): string {
  const rows = Object.entries(services).flatMap(([service, access]) =>
    Object.entries(access).map(([route, rule]) => {
      const who = isPublic(rule) ? `anyone, no token: ${rule.public}` : `${rule.roles.join(' or ')}${rule.rule ? `: ${rule.rule}` : ''}`;
      return `| ${service} | \`${route}\` | ${who} |`;
    }),
  );
  return ['| API | route | who may call it |', '|---|---|---|', ...rows].join('\n');
}

/** The published schemas in `dir` (`<type>.v<N>.json`), by `schemaKey`. */
export function readPublishedSchemas(dir: string): Record<string, JSONSchema> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return {};
  }
  return Object.fromEntries(
    names.filter((name) => name.endsWith('.json')).map((name) => [name.slice(0, -'.json'.length), JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as JSONSchema]),
  );
}

function main(argv: readonly string[]): number {
  const problems = checkCompatibility(readPublishedSchemas(path.join(DOCS_DIR, 'schemas')), { types: DOCS.types });
  if (problems.length > 0) {
    console.error(`docs: ${problems.length} problem(s) with published schemas; nothing written:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`);
    return 1;
  }
  const files = renderDocs(DOCS.types, DOCS.info);
  if (argv.includes('--check')) {
    const stale = Object.entries(files).filter(([file, text]) => {
      try {
        return readFileSync(path.join(DOCS_DIR, file), 'utf8') !== text;
      } catch {
        return true;
      }
    });
    if (stale.length > 0) console.error(`docs: out of date (run npm run docs): ${stale.map(([file]) => file).join(', ')}`);
    return stale.length > 0 ? 1 : 0;
  }
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(DOCS_DIR, file)), { recursive: true });
    writeFileSync(path.join(DOCS_DIR, file), text);
  }
  console.log(`docs: wrote ${Object.keys(files).length} files to ${path.relative(process.cwd(), DOCS_DIR) || '.'}/`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
