/**
 * `@hookdesk/verify` (packages/verify) as a receiver gets it: built by its own
 * build script, packed by npm, unpacked into a temporary node_modules. What
 * these tests import is the packed dist/, never the sources. It must accept
 * what the server signs (the sender's real headers, src/delivery/sender.ts)
 * with every form of secret and during a rotation, refuse everything else,
 * and agree with the server's own `X-Webhook-Signature` check on any header:
 * the server stays the one source of the signing, and this keeps the two
 * from drifting. examples/receiver.mjs runs on the same install as a child
 * process (docs/webhooks.md, "A receiver to start from").
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHeaders } from '../src/delivery/sender.js';
import { signatureHeader, verifyWebhookSignature } from '../src/delivery/signature.js';
import { verifyStandardSignature } from '../src/delivery/standard-verify.js';
import { generateSecret } from '../src/webhooks/secrets.js';
import type * as VerifyModule from '../packages/verify/src/index.js';
import { cliEnv, stop } from './support/cli.js';

type Verify = typeof VerifyModule;

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGE = join(ROOT, 'packages', 'verify');
const NOW = Date.UTC(2026, 0, 15, 10, 30);
const PLAIN = 'plain-secret-0123456789';
/** Starts with whsec_ but decodes to 8 bytes: a plain secret to the server. */
const SHORT_WHSEC = 'whsec_AAECAwQFBgc=';

let dir: string;
let installed: string;
let packed: string[];
let verify: Verify;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hookdesk-verify-'));
  installed = join(dir, 'node_modules', '@hookdesk', 'verify');
  mkdirSync(installed, { recursive: true });
  await run('npm', ['run', 'build', '--silent'], { cwd: PACKAGE, timeout: 60_000 });
  const { stdout } = await run(
    'npm',
    ['pack', '--json', '--ignore-scripts', '--pack-destination', dir],
    { cwd: PACKAGE, timeout: 60_000 },
  );
  const [pack] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  packed = pack!.files.map((f) => f.path).sort();
  await run('tar', ['-xzf', join(dir, pack!.filename), '-C', installed, '--strip-components=1']);
  verify = (await import(pathToFileURL(join(installed, 'dist', 'index.js')).href)) as Verify;
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The headers the sender puts on an attempt of `body` signed with `secrets`. */
function signed(secrets: string[], body: string, startedAt = NOW, deliveryId = randomUUID()) {
  return buildHeaders(
    {
      url: 'https://receiver.example/hooks',
      deliveryId,
      eventType: 'ticket.created',
      body,
      secrets,
      customHeaders: {},
    },
    startedAt,
  );
}

const BODY = JSON.stringify({ eventType: 'ticket.created', data: { ticket: { number: 42 } } });

describe('@hookdesk/verify, packed', () => {
  it('ships dist/, its package.json and README, and depends on nothing but node:', () => {
    expect(packed).toEqual(['README.md', 'dist/index.d.ts', 'dist/index.js', 'package.json']);
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'])
      expect(pkg[field], field).toBeUndefined();
    const code = readFileSync(join(installed, 'dist', 'index.js'), 'utf8');
    const imported = [...code.matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'/g)].map(
      (m) => m[1] ?? m[2],
    );
    expect(imported).toEqual(['node:crypto']);
  });

  it.each([
    ['a whsec_ secret', generateSecret()],
    ['a plain secret', PLAIN],
    ['a whsec_ secret that is not valid base64 of 24 to 64 bytes', SHORT_WHSEC],
  ])('verifies what the server signs with %s, and nothing else', (_, secret) => {
    const headers = signed([secret], BODY);
    const signature = headers['x-webhook-signature'];
    expect(verify.verifyStandardWebhook(secret, BODY, headers, { now: NOW })).toBe(true);
    expect(verify.verifyStandardWebhook(secret, Buffer.from(BODY), headers, { now: NOW })).toBe(
      true,
    );
    expect(verify.verifyWebhookSignature(secret, Buffer.from(BODY), signature)).toBe(true);

    const tampered = BODY.replace('42', '43');
    expect(verify.verifyStandardWebhook(secret, tampered, headers, { now: NOW })).toBe(false);
    expect(verify.verifyWebhookSignature(secret, tampered, signature)).toBe(false);
    const other = generateSecret();
    expect(verify.verifyStandardWebhook(other, BODY, headers, { now: NOW })).toBe(false);
    expect(verify.verifyWebhookSignature(other, BODY, signature)).toBe(false);
    // The id and the timestamp are signed too.
    const moved = { ...headers, 'webhook-id': randomUUID() };
    expect(verify.verifyStandardWebhook(secret, BODY, moved, { now: NOW })).toBe(false);
    const later = { ...headers, 'webhook-timestamp': String(NOW / 1000 + 1) };
    expect(verify.verifyStandardWebhook(secret, BODY, later, { now: NOW })).toBe(false);
  });

  it('holds webhook-timestamp to the tolerance, 5 minutes by default, either way', () => {
    const secret = generateSecret();
    const headers = signed([secret], BODY);
    const at = (now: number, toleranceSeconds?: number) =>
      verify.verifyStandardWebhook(secret, BODY, headers, { now, toleranceSeconds });
    expect(at(NOW + 300_999)).toBe(true);
    expect(at(NOW + 301_000)).toBe(false);
    expect(at(NOW - 300_000)).toBe(true);
    expect(at(NOW - 301_000)).toBe(false);
    expect(at(NOW + 3_600_000, 3600)).toBe(true);
    expect(at(NOW + 2_000, 1)).toBe(false);
    // Without `now`, the receiver's own clock: a delivery signed now passes, one of NOW (past) not.
    const fresh = signed([secret], BODY, Date.now());
    expect(verify.verifyStandardWebhook(secret, BODY, fresh)).toBe(true);
    expect(verify.verifyStandardWebhook(secret, BODY, headers)).toBe(false);
  });

  it('accepts either secret during a rotation, and a receiver holding both', () => {
    const [next, previous, stranger] = [generateSecret(), PLAIN, generateSecret()];
    const headers = signed([next, previous], BODY);
    const signature = headers['x-webhook-signature']!;
    expect(signature.split(', ')).toHaveLength(2);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secrets of [next, previous, [stranger, previous], [next, stranger]]) {
      expect(verify.verifyStandardWebhook(secrets, BODY, headers, { now: NOW })).toBe(true);
      expect(verify.verifyWebhookSignature(secrets, BODY, signature)).toBe(true);
    }
    for (const secrets of [stranger, [], [stranger, '']]) {
      expect(verify.verifyStandardWebhook(secrets, BODY, headers, { now: NOW })).toBe(false);
      expect(verify.verifyWebhookSignature(secrets, BODY, signature)).toBe(false);
    }
  });

  it('reads any form of headers, ignores unknown versions and refuses missing pieces', () => {
    const secret = generateSecret();
    const headers = signed([secret], BODY);
    const ok = (h: Parameters<Verify['verifyStandardWebhook']>[2]) =>
      verify.verifyStandardWebhook(secret, BODY, h, { now: NOW });
    expect(ok(new Headers(headers))).toBe(true);
    expect(
      ok({
        'Webhook-Id': headers['webhook-id'],
        'Webhook-Timestamp': headers['webhook-timestamp'],
        'Webhook-Signature': headers['webhook-signature'],
      }),
    ).toBe(true);
    const v1 = headers['webhook-signature']!;
    expect(ok({ ...headers, 'webhook-signature': `v1a,${v1.slice(3)} ${v1}` })).toBe(true);
    expect(ok({ ...headers, 'webhook-signature': `v2,${v1.slice(3)}` })).toBe(false);
    // The same bytes in a non-canonical encoding (other trailing bits) are not a value.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet.indexOf(v1.at(-2)!);
    const loose = v1.slice(0, -2) + alphabet[last ^ 1]! + '=';
    expect(Buffer.from(loose.slice(3), 'base64')).toEqual(Buffer.from(v1.slice(3), 'base64'));
    expect(ok({ ...headers, 'webhook-signature': loose })).toBe(false);
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      expect(ok({ ...headers, [name]: undefined }), name).toBe(false);
      expect(ok({ ...headers, [name]: '' }), name).toBe(false);
    }
    expect(ok({ ...headers, 'webhook-timestamp': `${headers['webhook-timestamp']}.0` })).toBe(
      false,
    );
    // An unset secret (a missing environment variable) refuses, never throws.
    expect(verify.verifyStandardWebhook(undefined as never, BODY, headers)).toBe(false);
    expect(
      verify.verifyWebhookSignature(undefined as never, BODY, signatureHeader(['x'], BODY)),
    ).toBe(false);
  });

  it.each([23, 24, 64, 65])(
    'keys a whsec_ secret of %i bytes as the server does (24 to 64 decode)',
    (bytes) => {
      const encoded = Buffer.alloc(bytes, 7).toString('base64');
      for (const secret of [`whsec_${encoded}`, `whsec_${encoded.replace(/=+$/, '')}`]) {
        const headers = signed([secret], BODY);
        expect(verify.verifyStandardWebhook(secret, BODY, headers, { now: NOW }), secret).toBe(
          true,
        );
      }
    },
  );

  it('verifies the server signature of any body under any secret, with the same key rules', () => {
    const secretArb = fc.oneof(
      fc.string({ minLength: 1, maxLength: 80 }),
      fc
        .integer({ min: 0, max: 80 })
        .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }))
        .map((b) => 'whsec_' + Buffer.from(b).toString('base64')),
      fc.string({ maxLength: 40 }).map((s) => 'whsec_' + s),
    );
    fc.assert(
      fc.property(secretArb, fc.string({ maxLength: 200 }), (secret, body) => {
        const headers = signed([secret], body);
        expect(verify.verifyStandardWebhook(secret, body, headers, { now: NOW })).toBe(true);
        expect(verify.verifyWebhookSignature(secret, body, headers['x-webhook-signature'])).toBe(
          true,
        );
      }),
      { numRuns: 300, seed: 6 },
    );
  });

  it('agrees with the server on every X-Webhook-Signature header', () => {
    const secret = 'agreement-secret-0123';
    const body = '{"n":1}';
    const good = signatureHeader([secret], body).slice('sha256='.length);
    const piece = fc.oneof(
      fc.constantFrom(`sha256=${good}`, `SHA256=${good.toUpperCase()}`, ` sha256=${good} `),
      fc.constantFrom('sha256=', '', 'sha1=' + good, `sha256=${good}0`, 'v1,abc'),
      fc
        .string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 })
        .map((h) => `sha256=${h}`),
      fc.string({ maxLength: 12 }),
    );
    const header = fc.oneof(
      fc.array(piece, { minLength: 1, maxLength: 3 }).map((p) => p.join(',')),
      fc.array(piece, { minLength: 1, maxLength: 3 }).map((p) => p.join(', ')),
    );
    fc.assert(
      fc.property(header, (h) => {
        expect(verify.verifyWebhookSignature(secret, body, h)).toBe(
          verifyWebhookSignature(secret, body, h),
        );
      }),
      { numRuns: 500, seed: 6 },
    );
    for (const h of [undefined, null, '', `sha256=${good},`, `sha256=${good}, sha256=zz`])
      expect(verify.verifyWebhookSignature(secret, body, h)).toBe(
        verifyWebhookSignature(secret, body, h),
      );
  });
});

describe('@hookdesk/verify and hookdesk listen', () => {
  it('agree on every webhook-signature header (the listener checks with src/delivery/standard-verify.ts)', () => {
    const secret = generateSecret();
    const body = '{"n":1}';
    const id = randomUUID();
    const timestamp = String(Math.floor(NOW / 1000));
    const good = signed([secret], body, NOW, id)['webhook-signature']!;
    const piece = fc.oneof(
      fc.constant(good),
      fc.constantFrom('v1,', 'v2,' + good.slice(3), 'v1,' + good.slice(3, -2), 'v1a,x', ''),
      fc.base64String({ minLength: 4, maxLength: 48 }).map((b) => `v1,${b}`),
      fc.string({ maxLength: 12 }),
    );
    const header = fc.array(piece, { minLength: 1, maxLength: 3 }).map((p) => p.join(' '));
    fc.assert(
      fc.property(header, (h) => {
        const headers = {
          'webhook-id': id,
          'webhook-timestamp': timestamp,
          'webhook-signature': h,
        };
        expect(verify.verifyStandardWebhook(secret, body, headers, { now: NOW })).toBe(
          verifyStandardSignature(secret, id, timestamp, body, h),
        );
      }),
      { numRuns: 500, seed: 7 },
    );
  });
});

/** examples/receiver.mjs beside the packed install, as a receiver would run it. */
function startReceiver(env: Record<string, string>): {
  child: ChildProcess;
  out: () => string;
} {
  copyFileSync(join(ROOT, 'examples', 'receiver.mjs'), join(dir, 'receiver.mjs'));
  const child = spawn(process.execPath, ['receiver.mjs'], { cwd: dir, env: cliEnv(env) });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out };
}

/** Polls until `pattern` shows in the output; bounded in count and time. */
async function waitFor(out: () => string, pattern: RegExp): Promise<RegExpExecArray> {
  for (let i = 0; i < 200; i++) {
    const match = pattern.exec(out());
    if (match) return match;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never printed ${pattern}: ${out()}`);
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

describe('examples/receiver.mjs', () => {
  it('exits 1 with one line when WEBHOOK_SECRET is unset', async () => {
    const { child, out } = startReceiver({});
    expect(await exitOf(child)).toBe(1);
    expect(out()).toBe("WEBHOOK_SECRET is not set: export the webhook's secret and start again.\n");
  });

  it('listens on 4242 by default, beside hookdesk listen on 4000', async () => {
    const { child, out } = startReceiver({ WEBHOOK_SECRET: PLAIN });
    try {
      // Either it listens there, or the port is taken and it says which one.
      await waitFor(out, /receiving webhooks on port 4242\n|port 4242 is in use/);
    } finally {
      await stop(child);
    }
  });

  it('answers a signed delivery 2xx once per id, and a tampered one 401', async () => {
    const [secret, previous] = [generateSecret(), PLAIN];
    const { child, out } = startReceiver({
      WEBHOOK_SECRET: secret,
      WEBHOOK_PREVIOUS_SECRET: previous,
      PORT: '0',
    });
    try {
      const port = (await waitFor(out, /receiving webhooks on port (\d+)\n/))[1];
      const post = async (headers: Record<string, string>, body = BODY) =>
        (await fetch(`http://127.0.0.1:${port}/hooks`, { method: 'POST', headers, body })).status;
      const first = signed([secret], BODY, Date.now());
      const second = signed([previous], BODY, Date.now());

      expect(await post(first)).toBe(204);
      expect(await post(first)).toBe(204); // a retry: answered, not handled again
      expect(await post(first, BODY.replace('42', '43'))).toBe(401);
      expect(await post(signed([generateSecret()], BODY, Date.now()))).toBe(401);
      expect(await post(signed([secret], BODY, Date.now() - 600_000))).toBe(401);
      expect(await post(second)).toBe(204);
      await waitFor(out, new RegExp(second['webhook-id']!));
      const handled = out().split('\n').slice(1, -1);
      expect(handled).toEqual([
        `ticket.created ${first['webhook-id']}`,
        `ticket.created ${second['webhook-id']}`,
      ]);
    } finally {
      await stop(child);
    }
  });
});
