/**
 * What the console's browser tests share: Debian's Chromium driven by
 * playwright-core (no browser is downloaded), the console built when dist/ is
 * older than console/, and bounded waits. test/console.test.ts has the full
 * tour and its own copy of the set-up; newer console suites use this one.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type BrowserContext } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SHOTS = join(ROOT, 'test-artifacts', 'screenshots');
export const CHROMIUM = '/usr/bin/chromium';
const CI = process.env.CI === 'true' || process.env.CI === '1';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
/** Skipped without Chromium, except under CI, where its absence is a failure. */
export const RUN_BROWSER_TESTS = HAVE_CHROMIUM || CI;

/** Newest modification time of the files under `dir`, in ms. */
function newest(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((max, e) => Math.max(max, statSync(join(e.parentPath, e.name)).mtimeMs), 0);
}

/** The console under test is the one in console/ now: rebuilt when dist/ is older. */
export async function buildConsoleIfStale(): Promise<void> {
  const index = join(ROOT, 'dist', 'console', 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newest(join(ROOT, 'console'))) return;
  await promisify(execFile)('npm', ['run', '--silent', 'build:console'], {
    cwd: ROOT,
    timeout: 120_000,
  });
}

export async function launchChromium(profileDir: string): Promise<BrowserContext> {
  if (!HAVE_CHROMIUM) {
    throw new Error(`CI=true and ${CHROMIUM} is missing: .ci/run installs it with apt-get.`);
  }
  return bounded(
    chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 800 },
      timeout: 30_000,
    }),
    40_000,
    'launching Chromium',
  );
}

/** Resolves once `check` returns true; polls every 200 ms for at most `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Rejects when `promise` takes longer than `ms`. */
export function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
