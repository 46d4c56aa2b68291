/**
 * The README's "First five minutes", run as written, so the README cannot
 * drift from what Hookdesk does. The section's ```sh blocks are run in order
 * and its ```text blocks are checked against what the processes print, at the
 * point where the README shows them. Real processes: the server, the listener
 * and curl, all on loopback. The README's SQLite path: no PostgreSQL.
 *
 * The only differences from a person following the README (the substitutions):
 * - ports: `localhost:3000` and `127.0.0.1:4000` become free ports, since
 *   suites run in parallel; the listener, which the README starts on its
 *   default port 4000, gets `--port <free port>`;
 * - `npm install` is skipped (the checkout is installed);
 * - `npm run dev` (and `npm start`) start `hookdesk serve --dev` (resp.
 *   `serve`) from the TypeScript sources through tsx, never the build: other
 *   suites serve dist/console, which a build would wipe; its database is a
 *   fresh SQLite file `<temp dir>/data/hookdesk.db` set through DATABASE_URL,
 *   and LOG_LEVEL is info, the default;
 * - `npx hookdesk …` is the same tsx CLI;
 * - the placeholder lines `KEY=hdk_…` and `WEBHOOK_ID=…` take the key the
 *   server printed and the id the webhook POST answered.
 * Every other command runs with bash, one at a time. In the ```text blocks,
 * `…` stands for anything, hex digits followed by `…` for an id, a timestamp
 * for any timestamp, and the version for any version; their lines must appear
 * in order (other lines may come between them, such as the logs).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startCli, stop, waitForOk } from './support/cli.js';
import { until } from './support/wait.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = 'First five minutes';
/** Bounds: start-up of a tsx child on a busy machine, one curl, one delivery. */
const START_MS = 45_000;
const COMMAND_MS = 15_000;
const DELIVERY_MS = 20_000;

interface Block {
  lang: string;
  text: string;
}

/** The fenced blocks of one `##` section (its `###` subsections included), in order. */
function sectionBlocks(markdown: string, title: string): Block[] {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no section "${title}"`);
  const next = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1] ?? '',
    text: m[2] ?? '',
  }));
}

/** One command per line, continuation lines joined, comments and blank lines dropped. */
function commandsOf(script: string): string[] {
  return script
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A README sample line as a whole-line pattern (see the file comment for what is loose). */
function linePattern(line: string, ports: Ports): RegExp {
  const concrete = line
    .replace(/localhost:3000/g, `localhost:${ports.api}`)
    .replace(/127\.0\.0\.1:4000/g, `127.0.0.1:${ports.listen}`);
  const source = escapeRegExp(concrete)
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\\\.\d{3}Z/g, '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z')
    .replace(/(Hookdesk )\d+\\\.\d+\\\.\d+/g, '$1\\d+\\.\\d+\\.\\d+\\S*')
    .replace(/[0-9a-f]+…/g, '[0-9a-f][0-9a-f-]*')
    .replace(/…/g, '.*?');
  return new RegExp(`^${source}$`);
}

/** The README lines that `output` lacks, matching in order. */
function missingLines(sample: string, output: string, ports: Ports): string[] {
  const lines = output.split('\n');
  let at = 0;
  const missing: string[] = [];
  for (const line of sample.split('\n').filter((l) => l.trim() !== '')) {
    const pattern = linePattern(line, ports);
    const found = lines.findIndex((l, i) => i >= at && pattern.test(l));
    if (found < 0) missing.push(line);
    else at = found + 1;
  }
  return missing;
}

interface Ports {
  api: number;
  listen: number;
}

/** The listener's output split into its request blocks (each starts with `--- `). */
function requestBlocks(output: string): string[] {
  return output.split(/^(?=--- )/m).filter((b) => b.startsWith('--- '));
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setTimeout(1000);
    const end = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.once('connect', () => end(true));
    socket.once('error', () => end(false));
    socket.once('timeout', () => end(false));
  });
}

/** One command through bash, killed after COMMAND_MS. */
function bash(
  command: string,
  vars: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn('bash', ['-c', command], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...vars },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_MS);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** A child with everything it printed kept. */
interface Started {
  child: ChildProcess;
  stdout: string;
  stderr: string;
}

function keep(child: ChildProcess): Started {
  const started: Started = { child, stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => (started.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (started.stderr += d.toString()));
  return started;
}

const dir = mkdtempSync(join(tmpdir(), 'hookdesk-readme-'));
const children: ChildProcess[] = [];
afterAll(async () => {
  await Promise.all(children.map((c) => stop(c)));
  rmSync(dir, { recursive: true, force: true });
});

describe('README quick start', () => {
  it('the text extracts: sh blocks to run and samples to check', () => {
    const blocks = sectionBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'), SECTION);
    const commands = blocks.filter((b) => b.lang === 'sh').flatMap((b) => commandsOf(b.text));
    // The quick start is one server for the whole way: never a second start.
    expect(commands.filter((c) => /^npm (run dev|start)\b/.test(c))).toHaveLength(1);
    expect(commands.some((c) => c.startsWith('npx hookdesk listen'))).toBe(true);
    expect(commands).toContain('npm install');
  });

  it(
    'works when followed literally: the banner, then signature: valid for ticket.created',
    { timeout: 150_000 },
    async () => {
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const blocks = sectionBlocks(readme, SECTION);
      const ports: Ports = { api: await freePort(), listen: await freePort() };
      const substitute = (command: string) =>
        command
          .replace(/\blocalhost:3000\b/g, `localhost:${ports.api}`)
          .replace(/\b127\.0\.0\.1:4000\b/g, `127.0.0.1:${ports.listen}`);
      let server: Started | undefined;
      let listener: Started | undefined;
      let webhookId: string | undefined;
      const vars: Record<string, string> = {};
      const answers: { command: string; body: unknown }[] = [];
      const ran: string[] = [];

      const serverKey = () =>
        /Its API key \(shown once, store it now\): (hdk_\S+)/.exec(server?.stderr ?? '')?.[1];

      for (const block of blocks) {
        if (block.lang === 'text') {
          // What the README says a process prints, checked where the README shows it.
          const isDelivery = block.text.includes('POST /hooks');
          const source = () => (isDelivery ? listener?.stdout : server?.stderr) ?? '';
          const missing = () => {
            if (!isDelivery) return missingLines(block.text, source(), ports);
            const deliveries = requestBlocks(source()).filter((b) =>
              b.includes('event: ticket.created'),
            );
            return deliveries.length === 0
              ? ['(no ticket.created delivery yet)']
              : missingLines(block.text, deliveries[0]!, ports);
          };
          // The server prints everything at start: once its banner's last line is out,
          // a missing line will not come.
          const settled = () =>
            missing().length === 0 || (!isDelivery && /^ {2}database: /m.test(source()));
          await until(
            `the output the README shows${isDelivery ? ' for the delivery' : ''}`,
            settled,
            isDelivery ? DELIVERY_MS : START_MS,
            () => `missing: ${JSON.stringify(missing())}\n--- got:\n${source()}`,
          );
          expect(missing(), `README lines not printed; got:\n${source()}`).toEqual([]);
          continue;
        }
        if (block.lang !== 'sh') continue;
        for (const command of commandsOf(block.text)) {
          ran.push(command);
          if (command === 'npm install') continue;
          const start = /^npm (run dev|start)$/.exec(command);
          if (start) {
            server = keep(
              startCli(start[1] === 'run dev' ? ['serve', '--dev'] : ['serve'], {
                PORT: String(ports.api),
                DATABASE_URL: `sqlite:${join(dir, 'data', 'hookdesk.db')}`,
                LOG_LEVEL: 'info',
              }),
            );
            children.push(server.child);
            const up = await waitForOk(`http://127.0.0.1:${ports.api}/readyz`, START_MS);
            expect(up, `the server did not start:\n${server.stderr}`).toBe(true);
            continue;
          }
          if (command.startsWith('npx hookdesk listen')) {
            expect(command, 'a listener command the test can split on spaces').not.toMatch(
              /["'$`\\]/,
            );
            const args = command.split(/\s+/).slice(2);
            const port = args.indexOf('--port');
            if (port >= 0) args[port + 1] = String(ports.listen);
            else args.push('--port', String(ports.listen));
            listener = keep(startCli(args, {}));
            children.push(listener.child);
            await until(
              'the listener to listen',
              () => portOpen(ports.listen),
              START_MS,
              () => listener?.stderr ?? '',
            );
            continue;
          }
          const assignment = /^([A-Z_]+)=(\S*)(\s+#.*)?$/.exec(command);
          if (assignment) {
            const [, name = '', value = ''] = assignment;
            if (!value.includes('…')) {
              vars[name] = substitute(value);
            } else if (name === 'KEY') {
              const key = serverKey();
              expect(key, `the server printed no API key:\n${server?.stderr}`).toBeDefined();
              vars[name] = key!;
            } else if (name === 'WEBHOOK_ID') {
              expect(webhookId, 'no webhook POST answered an id before WEBHOOK_ID=…').toBeDefined();
              vars[name] = webhookId!;
            } else {
              throw new Error(`The README's placeholder ${name}=… has no filler in this test`);
            }
            continue;
          }
          expect(command, 'quick-start commands are npm, npx hookdesk or curl').toMatch(/^curl /);
          const res = await bash(substitute(command), vars);
          expect(res.code, `${command}\n${res.stderr}`).toBe(0);
          let body: unknown;
          try {
            body = JSON.parse(res.stdout);
          } catch {
            throw new Error(`${command} answered no JSON: ${res.stdout.slice(0, 500)}`);
          }
          expect(body, `${command} answered an error`).not.toHaveProperty('code');
          answers.push({ command, body });
          if (/\/api\/webhooks\s/.test(command) && / -d /.test(command)) {
            webhookId = (body as { id?: string }).id;
          }
        }
      }

      // The walk went all the way: one server, a listener, the webhook and the ticket.
      expect(ran.filter((c) => c === 'npm run dev')).toHaveLength(1);
      expect(listener, 'the README starts a listener').toBeDefined();
      expect(webhookId).toMatch(/^[0-9a-f-]{36}$/);
      // The banner, whatever the README's sample shows of it.
      const stderr = server!.stderr;
      const base = `http://localhost:${ports.api}`;
      expect(stderr).toContain('DEVELOPMENT MODE');
      expect(stderr).toContain(`  console:   ${base}/\n`);
      expect(stderr).toContain(`  API docs:  ${base}/docs\n`);
      expect(stderr).toContain(`  health:    ${base}/healthz and ${base}/readyz\n`);
      expect(stderr).toContain(`  database:  SQLite ${join(dir, 'data', 'hookdesk.db')}\n`);
      const delivery = requestBlocks(listener!.stdout).find((b) =>
        b.includes('event: ticket.created'),
      );
      expect(delivery).toMatch(/^signature: valid\b/m);
      // The delivery log the README lists afterwards shows it.
      const log = answers.find((a) => a.command.includes('/deliveries'));
      expect(log, 'the README lists the deliveries').toBeDefined();
      const rows = (log!.body as { data: { eventType?: string }[] }).data;
      expect(rows.some((r) => JSON.stringify(r).includes('ticket.created'))).toBe(true);
      // The server never logged the key.
      expect(server!.stdout).not.toContain(vars.KEY);
    },
  );
});
