/**
 * Bad input aimed at outgoing webhooks (docs/api.md, "Webhooks"), on ticket and
 * survey webhooks, create and update:
 *
 * - custom headers: header injection (CR, LF, NUL in names and values),
 *   reserved and hop-by-hop names in any letter case (`Host`,
 *   `Content-Length`, …), duplicates differing only in case, characters no
 *   HTTP client can send, too many or too long. The oracle is RFC 9110 and
 *   Node's own header checks, not the implementation: a header set is
 *   accepted exactly when every header could be sent as given;
 * - SSRF URL spellings: blocked IPv4 addresses in decimal, hex, octal, short
 *   and mixed forms, percent-encoded and full-width; IPv6 loopback, private,
 *   link-local, and IPv4-mapped, NAT64, 6to4, ISATAP and compatible forms of
 *   blocked IPv4; `localhost`, `*.internal`, `.local`, `.svc` in any case with
 *   or without trailing dots; credentials. Every one answers 400 naming `url`,
 *   and public look-alikes are still accepted;
 * - signing secrets, rate limits and rotation: `secret` (create, PATCH and
 *   `…/secret/rotate`), `rateLimitPerSecond` (create, PATCH) and
 *   `overlapHours` (rotate) get listed wrong values and random JSON values.
 *   The oracle is the contract (docs/api.md, "Webhooks" and "Rotating a
 *   secret") and RFC 4648 base64, not the implementation: a wrong value
 *   answers 400 naming exactly that field and leaves every table as it was
 *   (the webhook's row included); a right one is stored as given;
 * - payload filters and ordering (create, PATCH): listed wrong `ordering` and
 *   `filter` values, and generated filters, valid by construction or with
 *   one wrong piece put in. The oracle is the contract (docs/webhooks.md,
 *   "Filters"): a wrong one answers 400 naming `filter` or the
 *   `filter.<path>` of the wrong piece, changing nothing; a right one is
 *   stored and shown as given.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { iso } from '../src/clock.js';
import { MASKED_HEADER_VALUE } from '../src/webhooks/headers.js';
import { forEachDialect } from './support/harness.js';
import {
  DbWatch,
  PUBLIC_WEBHOOK_URL,
  World,
  errorOf,
  fcParams,
  is2xx,
  timeoutFor,
  useOfflineDelivery,
  validHeaderName,
  watchProcess,
  type Res,
} from './support/fuzz.js';

const HEADER_RUNS = 200;
const SSRF_RUNS = 200;
const proc = watchProcess();

// ---------------------------------------------------------------------------
// Custom headers

/**
 * Set by Hookdesk on every delivery (docs/webhooks.md, "The request"), or
 * hop-by-hop / framing, or refused by undici.
 */
const MUST_REJECT = [
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'proxy-connection',
  'expect',
  'content-type',
  'user-agent',
  'x-webhook-event',
  'x-webhook-delivery',
  'x-webhook-signature',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
];
/** Hop-by-hop in RFC 2616 but harmless to send: either answer is fine. */
const EITHER = ['proxy-authorization', 'proxy-authenticate'];
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 field-value characters: what Node and undici will put on the wire. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

type Verdict = 'valid' | 'invalid' | 'either' | 'invalid_json';

/** What the API must answer for these headers, from the RFCs and the contract. */
function verdict(entries: [string, unknown][]): Verdict {
  const text = JSON.stringify(entries);
  if (text.includes('\\u0000') || entries.some(([n]) => n === '__proto__')) return 'invalid_json';
  if (entries.length > 20) return 'invalid';
  const seen = new Set<string>();
  let either = false;
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    if (!TOKEN.test(name) || name.length > 100) return 'invalid';
    if (MUST_REJECT.includes(lower) || seen.has(lower)) return 'invalid';
    if (EITHER.includes(lower)) either = true;
    if (typeof value !== 'string' || value.length > 1000 || !FIELD_VALUE.test(value)) {
      return 'invalid';
    }
    seen.add(lower);
  }
  return either ? 'either' : 'valid';
}

const insertAt = ([s, bad, at]: [string, string, number]) => {
  const i = at % (s.length + 1);
  return s.slice(0, i) + bad + s.slice(i);
};

const tokenChar = fc.constantFrom(..."!#$%&'*+-.^_`|~0123456789abcxyzABCXYZ");
const goodName = fc.oneof(
  validHeaderName,
  fc.string({ unit: tokenChar, minLength: 1, maxLength: 30 }),
);
const reservedName = fc
  .constantFrom(...MUST_REJECT, ...EITHER)
  .chain((n) => fc.mixedCase(fc.constant(n)));
const BAD_NAME_CHARS = [
  '\r',
  '\n',
  '\r\n',
  '\u0000',
  ' ',
  ':',
  '\t',
  '"',
  '(',
  '/',
  '@',
  '=',
  '{',
  'é',
  '€',
  '\u2028',
  '\u007f',
];
const headerName = fc.oneof(
  { arbitrary: goodName, weight: 5 },
  { arbitrary: reservedName, weight: 2 },
  {
    arbitrary: fc.tuple(goodName, fc.constantFrom(...BAD_NAME_CHARS), fc.nat()).map(insertAt),
    weight: 2,
  },
  {
    arbitrary: fc.constantFrom(
      '',
      'x'.repeat(100),
      'x'.repeat(101),
      '__proto__',
      'constructor',
      'X-Injected: 1',
      'X-A\r\nHost: evil.example',
      'Host ',
      ' Host',
    ),
    weight: 1,
  },
);
const goodValue = fc.string({
  unit: fc.constantFrom(...'abcXYZ019 -_.,;:=/"\'\t!~é\u00a0\u00ff'),
  maxLength: 40,
});
const BAD_VALUE_PARTS = [
  '\r',
  '\n',
  '\r\nX-Injected: 1',
  '\r\n\r\nGET / HTTP/1.1',
  '\u0000',
  '\u007f',
  '\u0001',
  '\u001b[31m',
  '€',
  '😀',
  '\u2028',
  '\u0100',
  '\ud800',
];
const headerValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: goodValue, weight: 5 },
  {
    arbitrary: fc.tuple(goodValue, fc.constantFrom(...BAD_VALUE_PARTS), fc.nat()).map(insertAt),
    weight: 3,
  },
  {
    arbitrary: fc.constantFrom<unknown>(
      '',
      ' ',
      'x'.repeat(1000),
      'x'.repeat(1001),
      1,
      true,
      null,
      [],
      {},
    ),
    weight: 1,
  },
);

/** Header entries in order; case variants of one name may appear, exact duplicates may not (a JSON object). */
const headerEntries: fc.Arbitrary<[string, unknown][]> = fc
  .tuple(
    fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
    fc.option(fc.nat(), { nil: undefined }),
    fc.oneof(
      { arbitrary: fc.constant(0), weight: 4 },
      { arbitrary: fc.integer({ min: 15, max: 24 }), weight: 1 },
    ),
  )
  .map(([entries, dupe, bulk]) => {
    const out = new Map<string, unknown>(entries);
    if (dupe !== undefined && entries.length > 0) {
      const [name, value] = entries[dupe % entries.length]!;
      const variant = name === name.toUpperCase() ? name.toLowerCase() : name.toUpperCase();
      if (variant !== name) out.set(variant, value);
    }
    for (let i = 0; i < bulk; i++) out.set(`X-Bulk-${i}`, 'v');
    return [...out];
  });

function headersObject(entries: [string, unknown][]): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const [name, value] of entries) {
    // defineProperty: a "__proto__" name is sent as an own key, as a client would send it.
    Object.defineProperty(obj, name, {
      value,
      enumerable: true,
      configurable: true,
      writable: true,
    });
  }
  return obj;
}

// ---------------------------------------------------------------------------
// SSRF spellings

type V4 = [number, number, number, number];
const byte = fc.integer({ min: 0, max: 255 });
const v4 = (a: fc.Arbitrary<number>, b: fc.Arbitrary<number> = byte): fc.Arbitrary<V4> =>
  fc.tuple(a, b, byte, byte);

/** IPv4 addresses in the ranges the SSRF rules block (docs/security.md, "Receivers"). */
const blockedV4: fc.Arbitrary<V4> = fc.oneof(
  v4(fc.constant(127)), // loopback
  v4(fc.constant(10)), // private
  v4(fc.constant(172), fc.integer({ min: 16, max: 31 })),
  v4(fc.constant(192), fc.constant(168)),
  v4(fc.constant(169), fc.constant(254)), // link-local, cloud metadata
  v4(fc.constant(100), fc.integer({ min: 64, max: 127 })), // CGNAT
  v4(fc.constant(0)), // "this network"
  v4(fc.integer({ min: 224, max: 239 })), // multicast
  v4(fc.integer({ min: 240, max: 255 })), // reserved, broadcast
  fc.constantFrom<V4>([169, 254, 169, 254], [0, 0, 0, 0], [127, 0, 0, 1], [255, 255, 255, 255]),
  fc
    .tuple(
      fc.constantFrom<[number, number, number]>(
        [192, 0, 2],
        [198, 51, 100],
        [203, 0, 113],
        [192, 0, 0],
      ),
      byte,
    )
    .map(([[a, b, c], d]) => [a, b, c, d] as V4),
);

const num = ([a, b, c, d]: V4) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
const hex = (n: number) => n.toString(16);
const fullWidth = (s: string) =>
  s.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))).replace(/\./g, '。');
const percent = (s: string) =>
  [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
const RADIX = ['dec', 'hex', 'oct'] as const;
const part = (n: number, radix: (typeof RADIX)[number]) =>
  radix === 'hex' ? `0x${hex(n)}` : radix === 'oct' ? `0${n.toString(8)}` : String(n);

/** Every IPv4 spelling the WHATWG URL parser reads as that address. */
const V4_STYLES = {
  dotted: (ip: V4) => ip.join('.'),
  integer: (ip: V4) => String(num(ip)),
  hexInteger: (ip: V4) => `0x${hex(num(ip))}`,
  upperHex: (ip: V4) => `0X${hex(num(ip)).toUpperCase()}`,
  octalInteger: (ip: V4) => `0${num(ip).toString(8)}`,
  dottedHex: (ip: V4) => ip.map((p) => part(p, 'hex')).join('.'),
  dottedOctal: (ip: V4) => ip.map((p) => part(p, 'oct')).join('.'),
  short1: (ip: V4) => `${ip[0]}.${((ip[1] << 16) | (ip[2] << 8) | ip[3]) >>> 0}`,
  short2: (ip: V4) => `${ip[0]}.${ip[1]}.${(ip[2] << 8) | ip[3]}`,
  trailingDot: (ip: V4) => `${ip.join('.')}.`,
  percentEncoded: (ip: V4) => percent(ip.join('.')),
  fullWidth: (ip: V4) => fullWidth(ip.join('.')),
  mixedRadix: (ip: V4, radixes: readonly (typeof RADIX)[number][]) =>
    ip.map((p, i) => part(p, radixes[i % radixes.length]!)).join('.'),
};

const h4 = (ip: V4) => `${hex((ip[0] << 8) | ip[1])}:${hex((ip[2] << 8) | ip[3])}`;
/** IPv6 forms that carry a (blocked) IPv4 address. */
const V6_EMBEDDING = {
  mappedDotted: (ip: V4) => `[::ffff:${ip.join('.')}]`,
  mappedHex: (ip: V4) => `[::ffff:${h4(ip)}]`,
  mappedLong: (ip: V4) => `[0:0:0:0:0:ffff:${h4(ip)}]`,
  nat64: (ip: V4) => `[64:ff9b::${ip.join('.')}]`,
  nat64Hex: (ip: V4) => `[64:ff9b::${h4(ip)}]`,
  nat64Local: (ip: V4) => `[64:ff9b:1::${h4(ip)}]`,
  sixToFour: (ip: V4) => `[2002:${h4(ip)}::]`,
  sixToFourHost: (ip: V4) => `[2002:${h4(ip)}:1::1]`,
  isatap: (ip: V4) => `[2001:4860:1:1:0:5efe:${h4(ip)}]`,
  compatible: (ip: V4) => `[::${ip.join('.')}]`,
};

const v6Suffix = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 3 })
  .map((parts) => parts.map(hex).join(':'));
/** IPv6 addresses that are blocked in themselves. */
const blockedV6: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('[::1]', '[0:0:0:0:0:0:0:1]', '[0000::0001]', '[::0:1]', '[::]', '[0::0]'),
  v6Suffix.map((s) => `[fe80::${s}]`), // link-local
  v6Suffix.map((s) => `[fd12:3456::${s}]`), // unique-local
  v6Suffix.map((s) => `[fc00::${s}]`),
  v6Suffix.map((s) => `[ff02::${s}]`), // multicast
  v6Suffix.map((s) => `[fec0::${s}]`), // site-local
  v6Suffix.map((s) => `[2001:db8::${s}]`), // documentation
);

const BLOCKED_SUFFIXES = ['localhost', 'internal', 'local', 'svc'];
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const blockedName: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(label, { maxLength: 2 }),
    fc.constantFrom(...BLOCKED_SUFFIXES),
    fc.constantFrom('', '.', '..'),
  )
  .filter(
    ([labels, suffix, dots]) => !(dots === '..' && labels.length === 0 && suffix !== 'localhost'),
  )
  .map(([labels, suffix, dots]) => [...labels, suffix].join('.') + dots)
  .chain((name) => fc.mixedCase(fc.constant(name)))
  .chain((name) =>
    fc.oneof(
      { arbitrary: fc.constant(name), weight: 4 },
      // One letter percent-encoded: the URL parser decodes it before any check.
      {
        arbitrary: fc.nat().map((i) => {
          const at = i % name.length;
          return name[at] === '.'
            ? name
            : name.slice(0, at) + percent(name[at]!) + name.slice(at + 1);
        }),
        weight: 1,
      },
    ),
  );
const namedTargets = fc.constantFrom(
  'metadata.google.internal',
  'kubernetes.default.svc',
  'kubernetes.default.svc.cluster.local',
  'printer.local',
  'ｌｏｃａｌｈｏｓｔ',
  'LOCALHOST',
  'localhost.',
);

interface SsrfUrl {
  url: string;
  /** The hostname the URL must parse to, when the spelling pins it. */
  host?: string;
  what: string;
}

const hostForms: fc.Arbitrary<{ host: string; expect?: string; what: string }> = fc.oneof(
  fc
    .tuple(
      blockedV4,
      fc.constantFrom(...(Object.keys(V4_STYLES) as (keyof typeof V4_STYLES)[])),
      fc.array(fc.constantFrom(...RADIX), { minLength: 4, maxLength: 4 }),
    )
    .map(([ip, style, radixes]) => ({
      host: V4_STYLES[style](ip, radixes),
      expect: ip.join('.'),
      what: `IPv4 ${style}`,
    })),
  fc
    .tuple(
      blockedV4,
      fc.constantFrom(...(Object.keys(V6_EMBEDDING) as (keyof typeof V6_EMBEDDING)[])),
    )
    .chain(([ip, form]) =>
      fc
        .mixedCase(fc.constant(V6_EMBEDDING[form](ip)))
        .map((host) => ({ host, what: `IPv6 ${form} of ${ip.join('.')}` })),
    ),
  blockedV6.chain((s) => fc.mixedCase(fc.constant(s))).map((host) => ({ host, what: 'IPv6' })),
  blockedName.map((host) => ({ host, what: 'name' })),
  namedTargets.map((host) => ({ host, what: 'name' })),
);

const ssrfUrl: fc.Arbitrary<SsrfUrl> = fc.oneof(
  {
    arbitrary: fc
      .tuple(
        hostForms,
        fc.constantFrom('https://', 'HTTPS://', 'HtTpS://', 'https:\\\\', 'https:/', 'https:'),
        fc.constantFrom('', ':443', ':8443', ':1', ':65535'),
        fc.stringMatching(/^[a-z0-9/_.?=&-]{0,20}$/),
        fc.option(fc.nat(), { nil: undefined }),
      )
      .map(([h, scheme, port, path, tab]) => {
        // The URL parser drops ASCII tabs and newlines anywhere: "127.0.\n0.1" is 127.0.0.1.
        const host =
          tab === undefined || h.host.startsWith('[')
            ? h.host
            : h.host.slice(0, tab % h.host.length) + '\t' + h.host.slice(tab % h.host.length);
        return {
          url: `${scheme}${host}${port}/${path}`,
          ...(h.expect !== undefined ? { host: h.expect } : {}),
          what: h.what,
        };
      }),
    weight: 6,
  },
  {
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          'user:pass@',
          'user@',
          ':pass@',
          'u%40x:p@',
          'hooks.example.com:443@',
          'a:b:c@',
        ),
        fc.constantFrom('hooks.example.com', 'api.example.org', '8.8.8.8'),
      )
      .map(([creds, host]) => ({ url: `https://${creds}${host}/hook`, what: 'credentials' })),
    weight: 1,
  },
);

/** Public destinations that only look like blocked ones: they must stay accepted. */
const PUBLIC_LOOKALIKES = [
  'https://hooks.example.com/x',
  'https://HOOKS.EXAMPLE.COM./x',
  'https://localhost.example.com/',
  'https://internal.example.com/',
  'https://svc.example.com/',
  'https://local.example.com/',
  'https://notlocalhost/',
  'https://my-internal/',
  'https://8.8.8.8/',
  'https://134744072/',
  'https://0x8.0x8.0x8.0x8/',
  'https://[2606:4700:4700::1111]/',
  'https://[::ffff:8.8.8.8]/',
  'https://[64:ff9b::8.8.8.8]/',
];

// ---------------------------------------------------------------------------
// Secrets, rate limits and rotation

const SECRET_RUNS = 150;
const NUMBER_RUNS = 150;

/** RFC 4648 base64 (standard alphabet, padded, no line breaks): its byte count, or null. */
function base64Bytes(text: string): number | null {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  // Unused bits of the last character must be zero (RFC 4648, 3.5): one spelling per value.
  return bytes.toString('base64') === text ? bytes.length : null;
}

/** Whether the contract accepts `value` as a webhook secret (`null` allowed where it means none). */
function secretIsValid(value: unknown, nullAllowed: boolean): boolean {
  if (value === null) return nullAllowed;
  if (typeof value !== 'string') return false;
  const length = [...value].length;
  if (length < 16 || length > 500) return false;
  if (!value.startsWith('whsec_')) return true;
  const bytes = base64Bytes(value.slice('whsec_'.length));
  return bytes !== null && bytes >= 24 && bytes <= 64;
}

const isIntegerIn = (value: unknown, min: number, max: number) =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const printable = fc.string({ unit: fc.constantFrom(...'abcXYZ019 -_+/=.~é€😀'), maxLength: 80 });
/** Secrets near every edge: lengths, whsec_ byte counts, alphabets, padding, stray bits. */
const secretValue: fc.Arbitrary<unknown> = fc.oneof(
  {
    arbitrary: fc
      .integer({ min: 0, max: 100 })
      .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }))
      .map((b) => `whsec_${b64(b)}`),
    weight: 6,
  },
  {
    arbitrary: fc
      .tuple(
        fc.uint8Array({ minLength: 24, maxLength: 64 }),
        fc.nat(),
        fc.constantFrom('-', '_', ' ', '\n', '=', '!', '.', 'A=', '=A', '\u00e9'),
      )
      .map(([b, at, bad]) => {
        const enc = b64(b);
        const i = at % (enc.length + 1);
        return `whsec_${enc.slice(0, i)}${bad}${enc.slice(i)}`;
      }),
    weight: 3,
  },
  {
    // Padding dropped, or a last character with stray low bits.
    arbitrary: fc
      .tuple(fc.uint8Array({ minLength: 24, maxLength: 64 }), fc.boolean())
      .map(([b, strip]) => {
        const enc = b64(b);
        if (strip) return `whsec_${enc.replace(/=+$/, '')}`;
        const pad = enc.indexOf('=');
        if (pad < 0) return `whsec_${enc}`;
        const last = enc[pad - 1]!;
        const bumped = last === 'z' ? 'y' : String.fromCharCode(last.charCodeAt(0) + 1);
        return `whsec_${enc.slice(0, pad - 1)}${bumped}${enc.slice(pad)}`;
      }),
    weight: 2,
  },
  {
    arbitrary: fc
      .uint8Array({ minLength: 24, maxLength: 64 })
      .map((b) => `whsec_${Buffer.from(b).toString('base64url')}`),
    weight: 2,
  },
  { arbitrary: fc.integer({ min: 0, max: 520 }).map((n) => 's'.repeat(n)), weight: 2 },
  {
    arbitrary: fc.oneof(
      printable,
      printable.map((t) => `whsec_${t}`),
      printable.map((t) => `WHSEC_${t}`),
    ),
    weight: 2,
  },
  {
    arbitrary: fc.constantFrom<unknown>(
      null,
      true,
      0,
      1234567890123456,
      [],
      ['whsec_' + 'A'.repeat(32)],
      {},
      'whsec_',
      'whsec_' + 'A'.repeat(32),
      'whsec_' + 'A'.repeat(88),
      'whsec_' + 'A'.repeat(86) + '==',
      'whsec_' + 'A'.repeat(30) + '==',
    ),
    weight: 2,
  },
);

/** Numbers near the bounds of both fields, and JSON values of every other type. */
const numberValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.integer({ min: -3, max: 3 }), weight: 3 },
  { arbitrary: fc.integer({ min: 165, max: 171 }), weight: 3 },
  { arbitrary: fc.integer({ min: 9_997, max: 10_003 }), weight: 3 },
  { arbitrary: fc.integer(), weight: 2 },
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 2 },
  {
    arbitrary: fc.constantFrom<unknown>(
      null,
      true,
      false,
      '5',
      '24',
      '',
      1.5,
      0.5,
      -0.5,
      1e21,
      -1e21,
      Number.MAX_SAFE_INTEGER,
      [],
      [5],
      {},
      { value: 5 },
    ),
    weight: 3,
  },
);

// Payload filters: generated within the limits (at most 7 levels deep), valid by construction.
const FILTER_RUNS = 150;
const FILTER_MAX_BYTES = 4096;
const filterScalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.boolean(),
  fc.constant(null),
);
const isoTime = fc
  .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
  .map((d) => d.toISOString());
const filterOperand: Record<string, fc.Arbitrary<unknown>> = {
  $eq: filterScalar,
  $ne: filterScalar,
  $in: fc.array(filterScalar, { maxLength: 4 }),
  $nin: fc.array(filterScalar, { maxLength: 4 }),
  $gt: fc.oneof(fc.integer(), isoTime),
  $gte: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), isoTime),
  $lt: fc.oneof(
    isoTime,
    isoTime.map((t) => t.slice(0, 10)),
  ),
  $lte: fc.oneof(
    fc.integer(),
    isoTime.map((t) => t.replace('Z', '+05:30')),
  ),
  $exists: fc.boolean(),
};
const operators = fc
  .uniqueArray(fc.constantFrom(...Object.keys(filterOperand)), { minLength: 1, maxLength: 3 })
  .chain((ops) =>
    fc
      .tuple(...ops.map((op) => filterOperand[op]!))
      .map((values) => Object.fromEntries(ops.map((op, i) => [op, values[i]]))),
  );
const filterPath = fc
  .array(fc.stringMatching(/^[a-zA-Z0-9_]{1,8}$/), { minLength: 1, maxLength: 4 })
  .map((segments) => segments.join('.'));
const filterFields = fc.dictionary(filterPath, fc.oneof(filterScalar, operators), { maxKeys: 3 });
const filterAt = (depth: number): fc.Arbitrary<Record<string, unknown>> =>
  depth === 0
    ? filterFields
    : fc
        .tuple(
          filterFields,
          fc.option(
            fc.tuple(
              fc.constantFrom('$and', '$or'),
              fc.array(filterAt(depth - 1), { minLength: 1, maxLength: 2 }),
            ),
          ),
        )
        .map(([fields, logic]) => (logic ? { ...fields, [logic[0]]: logic[1] } : fields));
/** A wrong piece and where the problem is, after `filter.<key>`. */
const FILTER_POISON: [unknown, string][] = [
  [{ $in: 'x' }, '.$in'],
  [{ $nin: [1, {}] }, '.$nin[1]'],
  [{ $gt: true }, '.$gt'],
  [{ $lte: 'soon' }, '.$lte'],
  [{ $gte: '2026-02-30' }, '.$gte'],
  [{ $exists: 1 }, '.$exists'],
  [{ $eq: [1] }, '.$eq'],
  [{ $regex: 'a' }, '.$regex'],
  [{ nested: 1 }, '.nested'],
  [{}, ''],
  [[1], ''],
];
const filterCase = fc.record({
  filter: filterAt(2),
  poison: fc.option(fc.constantFrom(...FILTER_POISON), { freq: 2 }),
});

const RATE_LIMIT = { min: 1, max: 10_000 };
const OVERLAP = { min: 0, max: 168 };

// ---------------------------------------------------------------------------

forEachDialect('bad input: webhook headers and URLs', (h) => {
  useOfflineDelivery(h);
  let watch: DbWatch;
  let world: World;
  let bases: Record<'ticket' | 'survey', { collection: string; item: string }>;

  beforeAll(async () => {
    watch = new DbWatch(h);
    world = await World.create(h, watch);
    const a = world.tenants[0];
    const survey = a.ids.surveys![0]!;
    const hooks = await h.db
      .selectFrom('webhooks')
      .select(['id', 'survey_id'])
      .where('organization_id', '=', a.organizationId)
      .execute();
    bases = {
      ticket: {
        collection: '/api/webhooks',
        item: `/api/webhooks/${hooks.find((w) => w.survey_id === null)!.id}`,
      },
      survey: {
        collection: `/api/surveys/${survey}/webhooks`,
        item: `/api/surveys/${survey}/webhooks/${hooks.find((w) => w.survey_id === survey)!.id}`,
      },
    };
  });

  const send = (method: string, url: string, body: unknown) =>
    watch.send({
      method,
      url,
      headers: {
        authorization: `Bearer ${world.tenants[0].adminKey}`,
        'content-type': 'application/json',
      },
      payload: JSON.stringify(body),
    });
  const baseBody = (kind: 'ticket' | 'survey') =>
    kind === 'ticket'
      ? { name: 'fuzz', url: PUBLIC_WEBHOOK_URL, events: ['ticket.created'] }
      : { name: 'fuzz', url: PUBLIC_WEBHOOK_URL };
  /** Created webhooks are deleted again, so a survey never reaches its limit of 10. */
  const cleanUp = async (res: Res, kind: 'ticket' | 'survey', method: string) => {
    if (method !== 'POST' || !is2xx(res)) return;
    const del = await send('DELETE', `${bases[kind].collection}/${res.json().id}`, undefined);
    expect(del.statusCode, del.body).toBe(204);
  };

  it(
    'accepts custom headers exactly when each could be sent as given',
    async () => {
      const plan = fc.record({
        kind: fc.constantFrom<'ticket' | 'survey'>('ticket', 'survey'),
        method: fc.constantFrom('POST', 'PATCH'),
        entries: headerEntries,
      });
      await fc.assert(
        fc.asyncProperty(plan, async ({ kind, method, entries }) => {
          const headers = headersObject(entries);
          const body = method === 'POST' ? { ...baseBody(kind), headers } : { headers };
          const url = method === 'POST' ? bases[kind].collection : bases[kind].item;
          const res = await send(method, url, body);
          const expected = verdict(entries);
          const label = `${method} ${url} ${JSON.stringify(entries)} (${expected}) -> ${res.statusCode} ${res.body.slice(0, 400)}`;
          if (expected === 'invalid_json') {
            expect(res.statusCode, label).toBe(400);
            expect(errorOf(res).code, label).toBe('invalid_json');
          } else if (expected === 'invalid' || (expected === 'either' && !is2xx(res))) {
            expect(res.statusCode, label).toBe(400);
            const error = errorOf(res);
            expect(error.code, label).toBe('validation_failed');
            expect(error.fields.length, label).toBeGreaterThan(0);
            for (const field of error.fields) expect(field, label).toMatch(/^headers(\.|$)/);
          } else {
            expect(res.statusCode, label).toBe(method === 'POST' ? 201 : 200);
            // Values are write-only: the answer shows each name with the mask.
            const hook = res.json();
            const names = entries.map(([name]) => [name, MASKED_HEADER_VALUE]);
            expect(hook.headers, label).toEqual(Object.fromEntries(names));
            const row = await h.db
              .selectFrom('webhooks')
              .select('headers')
              .where('id', '=', hook.id)
              .executeTakeFirstOrThrow();
            const stored = JSON.parse(row.headers) as Record<string, string>;
            expect(stored, label).toEqual(Object.fromEntries(entries));
            // Independent check: Node itself would send every accepted header.
            for (const [name, value] of Object.entries(stored)) {
              expect(() => validateHeaderName(name), label).not.toThrow();
              expect(() => validateHeaderValue(name, value), label).not.toThrow();
            }
          }
          await cleanUp(res, kind, method);
        }),
        fcParams(HEADER_RUNS),
      );
      watch.report('webhook headers');
      await proc.expectHealthy(h);
    },
    timeoutFor(HEADER_RUNS),
  );

  it(
    'refuses every spelling of a blocked destination, naming url',
    async () => {
      const plan = fc.record({
        kind: fc.constantFrom<'ticket' | 'survey'>('ticket', 'survey'),
        method: fc.constantFrom('POST', 'PATCH'),
        target: ssrfUrl,
      });
      await fc.assert(
        fc.asyncProperty(plan, async ({ kind, method, target }) => {
          // The generator's own check: the spelling parses, to the address it means.
          const parsed = new URL(target.url);
          if (target.host !== undefined) expect(parsed.hostname, target.url).toBe(target.host);
          const body =
            method === 'POST' ? { ...baseBody(kind), url: target.url } : { url: target.url };
          const url = method === 'POST' ? bases[kind].collection : bases[kind].item;
          const res = await send(method, url, body);
          const label = `${method} ${url} ${target.what} ${JSON.stringify(target.url)} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
          expect(res.statusCode, label).toBe(400);
          const error = errorOf(res);
          expect(error.code, label).toBe('validation_failed');
          expect(error.fields, label).toEqual(['url']);
          await cleanUp(res, kind, method);
        }),
        fcParams(SSRF_RUNS),
      );
      await proc.expectHealthy(h);
    },
    timeoutFor(SSRF_RUNS),
  );

  it('still accepts public destinations that look like blocked ones', async () => {
    for (const kind of ['ticket', 'survey'] as const) {
      for (const target of PUBLIC_LOOKALIKES) {
        const res = await send('POST', bases[kind].collection, { ...baseBody(kind), url: target });
        expect(res.statusCode, `${target}: ${res.body}`).toBe(201);
        await cleanUp(res, kind, 'POST');
      }
    }
  });

  // -------------------------------------------------------------------------
  // Secrets, rate limits and rotation

  type Where = 'create' | 'patch' | 'rotate';
  const KINDS = ['ticket', 'survey'] as const;
  const rowOf = (id: string) =>
    h.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const itemId = (kind: 'ticket' | 'survey') => bases[kind].item.split('/').at(-1)!;
  /** One request setting `field` to `value` (an absent `value` leaves the field out). */
  const setField = (kind: 'ticket' | 'survey', where: Where, field: string, value: unknown) => {
    const fields = value === undefined ? {} : { [field]: value };
    if (where === 'create')
      return send('POST', bases[kind].collection, { ...baseBody(kind), ...fields });
    if (where === 'patch') return send('PATCH', bases[kind].item, fields);
    return send('POST', `${bases[kind].item}/secret/rotate`, fields);
  };
  /** 400 `validation_failed` naming exactly `field`, and the item's row as it was. */
  const expectRefused = async (res: Res, field: string, before: unknown, label: string) => {
    const full = `${label} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
    expect(res.statusCode, full).toBe(400);
    const error = errorOf(res);
    expect(error.code, full).toBe('validation_failed');
    // A field may carry several problems (`must be an integer`, `must be at least 1`): it alone is named.
    expect([...new Set(error.fields)], full).toEqual([field]);
    expect(await rowOf((before as { id: string }).id), full).toEqual(before);
  };

  const tenBytes = `whsec_${Buffer.alloc(10, 1).toString('base64')}`;
  const hundredBytes = `whsec_${Buffer.alloc(100, 1).toString('base64')}`;
  const WRONG: { field: string; where: Where[]; values: unknown[] }[] = [
    {
      field: 'secret',
      where: ['create', 'patch', 'rotate'],
      values: [
        's'.repeat(15),
        's'.repeat(501),
        'whsec_this is not base64 at all',
        tenBytes,
        hundredBytes,
        `whsec_${Buffer.alloc(32, 250).toString('base64url')}`,
        // Base64 of 32 bytes ends `AQE=`: `AQF=` sets a bit that encodes nothing.
        `whsec_${Buffer.alloc(32, 1).toString('base64').replace(/E=$/, 'F=')}`,
        1234567890123456,
        true,
        ['whsec_' + 'A'.repeat(32)],
        {},
      ],
    },
    // On create and PATCH null means "no secret"; a rotation always sets one.
    { field: 'secret', where: ['rotate'], values: [null] },
    {
      field: 'rateLimitPerSecond',
      where: ['create', 'patch'],
      values: [0, -1, 10_001, 1.5, '5', true, [], {}],
    },
    { field: 'overlapHours', where: ['rotate'], values: [-1, 169, 1.5, '24', null, true, [], {}] },
    {
      field: 'ordering',
      where: ['create', 'patch'],
      values: ['TICKET', 'survey', 'ticket ', '', null, true, 1, [], ['ticket'], {}],
    },
    {
      field: 'filter',
      where: ['create', 'patch'],
      values: [
        'priority = high',
        true,
        1,
        [],
        [{ eventType: 'ticket.created' }],
        { 'data.ticket.subject': 'x'.repeat(FILTER_MAX_BYTES) },
        JSON.parse(`${'{"$or":['.repeat(6)}{"a":1}${']}'.repeat(6)}`),
      ],
    },
    { field: 'filter.$where', where: ['create', 'patch'], values: [{ $where: 'true' }] },
    { field: 'filter.$and', where: ['create', 'patch'], values: [{ $and: [] }, { $and: {} }] },
    { field: 'filter.$or[0]', where: ['create', 'patch'], values: [{ $or: ['a'] }] },
    {
      field: 'filter.data.ticket.priority.$in',
      where: ['create', 'patch'],
      values: [{ 'data.ticket.priority': { $in: 'high' } }],
    },
    {
      field: 'filter.a.$gt',
      where: ['create', 'patch'],
      values: [{ a: { $gt: true } }, { a: { $gt: null } }, { a: { $gt: 'tomorrow' } }],
    },
    { field: 'filter.a.$exists', where: ['create', 'patch'], values: [{ a: { $exists: 'yes' } }] },
    { field: 'filter.a..b', where: ['create', 'patch'], values: [{ 'a..b': 1 }] },
    // Unknown fields are refused on rotate as on every other body.
    { field: 'unexpected', where: ['rotate'], values: [1, 'x', null] },
    { field: 'url', where: ['rotate'], values: [PUBLIC_WEBHOOK_URL] },
  ];

  it('refuses every listed wrong secret, rate limit, overlap and unknown field, changing nothing', async () => {
    // The list agrees with the oracle of the property below.
    for (const value of WRONG[0]!.values)
      expect(secretIsValid(value, true), String(value)).toBe(false);
    for (const kind of KINDS) {
      for (const { field, where, values } of WRONG) {
        for (const w of where) {
          for (const value of values) {
            const before = await rowOf(itemId(kind));
            const res = await setField(kind, w, field, value);
            await expectRefused(
              res,
              field,
              before,
              `${w} ${kind} ${field}=${JSON.stringify(value)}`,
            );
          }
        }
      }
      // A rotate body that is not an object at all.
      for (const body of [[], 'x', 5, null, true]) {
        const before = await rowOf(itemId(kind));
        const res = await send('POST', `${bases[kind].item}/secret/rotate`, body);
        await expectRefused(res, '(root)', before, `rotate ${kind} body ${JSON.stringify(body)}`);
      }
      // Several wrong fields at once: every one is named, still nothing changes.
      const before = await rowOf(itemId(kind));
      const res = await send('POST', `${bases[kind].item}/secret/rotate`, {
        secret: tenBytes,
        overlapHours: 169,
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(errorOf(res).fields.sort()).toEqual(['overlapHours', 'secret']);
      expect(await rowOf(itemId(kind))).toEqual(before);
    }
    await proc.expectHealthy(h);
  });

  it(
    'accepts a secret exactly when the contract allows it, on create, PATCH and rotate',
    async () => {
      const plan = fc.record({
        kind: fc.constantFrom(...KINDS),
        where: fc.constantFrom<Where>('create', 'patch', 'rotate'),
        value: secretValue,
      });
      await fc.assert(
        fc.asyncProperty(plan, async ({ kind, where, value }) => {
          const before = await rowOf(itemId(kind));
          const valid =
            secretIsValid(value, where !== 'rotate') &&
            // A rotation needs a new secret.
            !(where === 'rotate' && value === before.secret);
          const res = await setField(kind, where, 'secret', value);
          const label = `${where} ${kind} secret=${JSON.stringify(value)} (${valid ? 'valid' : 'invalid'})`;
          if (!valid) {
            await expectRefused(res, 'secret', before, label);
            return;
          }
          expect(res.statusCode, `${label} -> ${res.body.slice(0, 300)}`).toBe(
            where === 'create' ? 201 : 200,
          );
          const id = where === 'create' ? (res.json().id as string) : before.id;
          expect((await rowOf(id)).secret, label).toBe(value);
          if (where === 'rotate') expect(res.json().secret, label).toBe(value);
          else expect(res.json().hasSecret, label).toBe(value !== null);
          await cleanUp(res, kind, where === 'create' ? 'POST' : 'PATCH');
        }),
        fcParams(SECRET_RUNS),
      );
      watch.report('webhook secrets');
      await proc.expectHealthy(h);
    },
    timeoutFor(SECRET_RUNS),
  );

  it(
    'accepts rateLimitPerSecond and overlapHours exactly when they are integers in range',
    async () => {
      const plan = fc.record({
        kind: fc.constantFrom(...KINDS),
        target: fc.constantFrom<{ field: string; where: Where }>(
          { field: 'rateLimitPerSecond', where: 'create' },
          { field: 'rateLimitPerSecond', where: 'patch' },
          { field: 'overlapHours', where: 'rotate' },
        ),
        value: numberValue,
      });
      await fc.assert(
        fc.asyncProperty(plan, async ({ kind, target: { field, where }, value }) => {
          const before = await rowOf(itemId(kind));
          // JSON has no -0; what is sent is what JSON.stringify writes.
          const sent: unknown = JSON.parse(JSON.stringify(value));
          const valid =
            field === 'overlapHours'
              ? isIntegerIn(sent, OVERLAP.min, OVERLAP.max)
              : sent === null || isIntegerIn(sent, RATE_LIMIT.min, RATE_LIMIT.max);
          const res = await setField(kind, where, field, value);
          const label = `${where} ${kind} ${field}=${JSON.stringify(value)} (${valid ? 'valid' : 'invalid'})`;
          if (!valid) {
            await expectRefused(res, field, before, label);
            return;
          }
          expect(res.statusCode, `${label} -> ${res.body.slice(0, 300)}`).toBe(
            where === 'create' ? 201 : 200,
          );
          if (field === 'rateLimitPerSecond') {
            const id = where === 'create' ? (res.json().id as string) : before.id;
            expect(res.json().rateLimitPerSecond, label).toBe(sent);
            expect((await rowOf(id)).rate_limit_per_second, label).toBe(sent);
          } else {
            const hours = sent as number;
            const expires =
              before.secret !== null && hours > 0 ? h.clock.now() + hours * 3_600_000 : null;
            expect(res.json().previousSecretExpiresAt, label).toBe(iso(expires));
            expect(await rowOf(before.id), label).toMatchObject({
              previous_secret: expires === null ? null : before.secret,
              previous_secret_expires_at: expires,
            });
          }
          await cleanUp(res, kind, where === 'create' ? 'POST' : 'PATCH');
        }),
        fcParams(NUMBER_RUNS),
      );
      watch.report('webhook rate limits and overlaps');
      await proc.expectHealthy(h);
    },
    timeoutFor(NUMBER_RUNS),
  );

  it(
    'accepts a filter exactly when every piece is right and it fits, storing it as given',
    async () => {
      const plan = fc.record({
        kind: fc.constantFrom(...KINDS),
        where: fc.constantFrom<Where>('create', 'patch'),
        value: filterCase,
      });
      await fc.assert(
        fc.asyncProperty(plan, async ({ kind, where, value: { filter, poison } }) => {
          const before = await rowOf(itemId(kind));
          const sent = poison ? { ...filter, 'bad-key': poison[0] } : filter;
          const tooLarge = Buffer.byteLength(JSON.stringify(sent)) > FILTER_MAX_BYTES;
          const res = await setField(kind, where, 'filter', sent);
          const label = `${where} ${kind} filter=${JSON.stringify(sent).slice(0, 300)}`;
          if (tooLarge || poison) {
            await expectRefused(
              res,
              tooLarge ? 'filter' : `filter.bad-key${poison![1]}`,
              before,
              label,
            );
            return;
          }
          expect(res.statusCode, `${label} -> ${res.body.slice(0, 300)}`).toBe(
            where === 'create' ? 201 : 200,
          );
          const expected = JSON.parse(JSON.stringify(sent));
          expect(res.json().filter, label).toEqual(expected);
          const id = where === 'create' ? (res.json().id as string) : before.id;
          expect(JSON.parse((await rowOf(id)).filter!), label).toEqual(expected);
          await cleanUp(res, kind, where === 'create' ? 'POST' : 'PATCH');
        }),
        fcParams(FILTER_RUNS),
      );
      watch.report('webhook filters');
      await proc.expectHealthy(h);
    },
    timeoutFor(FILTER_RUNS),
  );
});
