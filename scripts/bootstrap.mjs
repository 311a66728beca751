// Runs before `npm start` and `npm test` on a fresh clone: installs node modules (from the lockfile)
// when they are missing or stale. The emulator is installed by localstack/cloud.ts when first needed.
// With `--browser` (what `pretest` passes) it also makes sure a headless Chromium is installed for the
// browser tests of the order board: Debian's `chromium` package, driven by playwright-core through its
// `executablePath` (playwright's own browser download needs the internet; apt uses the distro mirror).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const lock = readFileSync('package-lock.json');
const stamp = 'node_modules/.bootstrap-lock-sha256';
const hash = createHash('sha256').update(lock).digest('hex');
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== hash) {
  console.log('Installing node modules (npm ci) …');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  writeFileSync(stamp, hash);
}

if (process.argv.includes('--browser')) ensureChromium();

/** Installs Debian's `chromium` with apt when /usr/bin/chromium is missing (idempotent). */
function ensureChromium() {
  const CHROMIUM = '/usr/bin/chromium';
  if (existsSync(CHROMIUM)) return;
  const fail = (why) => {
    console.error(
      `The browser tests need Chromium at ${CHROMIUM} and it is missing; ${why}.\n` +
        'Install it yourself (Debian/Ubuntu: `sudo apt-get install -y --no-install-recommends chromium`) and run the tests again.',
    );
    process.exit(1);
  };
  if (process.platform !== 'linux') fail(`automatic installation is only done on Linux with apt (this is ${process.platform})`);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) fail('installing it needs root (apt-get) and this is not root');
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) fail('apt-get was not found on this machine');
  const apt = (args) => {
    console.log(`$ apt-get ${args.join(' ')}`);
    const result = spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (result.status !== 0) fail(`\`apt-get ${args.join(' ')}\` exited with ${result.status ?? result.signal}`);
  };
  console.log(`Chromium is missing at ${CHROMIUM}; installing Debian's chromium package for the browser tests …`);
  apt(['update']);
  apt(['install', '-y', '--no-install-recommends', 'chromium']);
  if (!existsSync(CHROMIUM)) fail(`apt installed the package but ${CHROMIUM} still does not exist`);
  console.log(`Installed ${CHROMIUM}.`);
}
