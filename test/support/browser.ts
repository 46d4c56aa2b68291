/**
 * What the console's browser tests share: Debian's Chromium driven by
 * playwright-core (no browser is downloaded), the console built when dist/ is
 * older than console/, a `hookdesk serve` child that serves it, the API
 * called beside the browser, and bounded waits.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { freePort, requestJson, startCli, stop, waitForOk } from './cli.js';
import { CA_FILE } from './receiver.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SHOTS = join(ROOT, 'test-artifacts', 'screenshots');
export const CHROMIUM = '/usr/bin/chromium';
const CI = process.env.CI === 'true' || process.env.CI === '1';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
/** Skipped without Chromium, except under CI, where its absence is a failure. */
export const RUN_BROWSER_TESTS = HAVE_CHROMIUM || CI;

/** Says once, on the suite's output, that `what` is skipped for want of Chromium. */
export function noteSkipped(what: string): void {
  if (RUN_BROWSER_TESTS) return;
  process.stdout.write(`${what} skipped: ${CHROMIUM} is missing (apt-get install -y chromium).\n`);
}

/** Newest modification time of the files under `dir`, in ms. */
function newest(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((max, e) => Math.max(max, statSync(join(e.parentPath, e.name)).mtimeMs), 0);
}

/**
 * The console under test is the one in console/ now: rebuilt when dist/ is
 * older (`npm install` and `npm run build` build it, so CI rarely needs to).
 */
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

/**
 * A `hookdesk serve` child on a free loopback port, ready (GET /readyz), that
 * delivers to the loopback receivers of test/support/receiver.ts. `env` adds
 * the database and anything else. Stopped here if it never gets ready, since
 * the suite's afterAll never hears of it then.
 */
export async function serveConsole(
  env: Record<string, string>,
): Promise<{ base: string; child: ChildProcess }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = startCli(['serve'], {
    PORT: String(port),
    HOST: '127.0.0.1',
    HOOKDESK_EGRESS_ALLOW: '127.0.0.1',
    HOOKDESK_EGRESS_CA_FILE: CA_FILE,
    HOOKDESK_DELIVERY_TIMEOUT_MS: '2000',
    ...env,
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const ready = await waitForOk(`${base}/readyz`, 30_000);
  if (!ready) await stop(child);
  expect(ready, output).toBe(true);
  return { base, child };
}

/** What the page logged that a suite checks at its end. */
export interface BrowserErrors {
  /** Uncaught script errors. */
  page: string[];
  /**
   * The browser's own error lines, such as each 4xx answer a test provoked,
   * each followed by ` <url>` of the resource when the browser names one (so a
   * suite can allow a refusal of one path only).
   */
  console: string[];
}

/** The context's first tab, with a 15 s default timeout, its errors collected in `errors`. */
export async function firstPage(context: BrowserContext, errors: BrowserErrors): Promise<Page> {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location().url;
    errors.console.push(url ? `${m.text()} ${url}` : m.text());
  });
  page.on('pageerror', (e) => errors.page.push(e.message));
  return page;
}

/** The afterAll of a console suite: Chromium (bounded), the server, the temporary folder. */
export async function closeConsole(
  context: BrowserContext | undefined,
  child: ChildProcess | undefined,
  dir: string,
): Promise<void> {
  await bounded(context?.close() ?? Promise.resolve(), 15_000, 'closing Chromium').catch(
    () => undefined,
  );
  if (child) await stop(child);
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/**
 * Calls the API beside the browser with `headers` (the credentials); any
 * answer but 2xx fails the test. The JSON answer, or null when empty.
 */
export async function callApi(
  base: string,
  headers: Record<string, string>,
  method: string,
  path: string,
  body?: unknown,
): Promise<any> {
  const res = await requestJson(base, method, path, { headers, body });
  expect(res.ok, `${method} ${path}: ${res.status} ${res.text}`).toBe(true);
  return res.body;
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
