import { describe, expect, it } from 'vitest';
import {
  checkWebhookUrl,
  createEgressPolicy,
  isBlockedAddress,
  parseAllowList,
  type EgressPolicy,
} from '../src/egress/index.js';

const strict = createEgressPolicy({ allowHttp: false, allow: [] });
const policy = (allow: string[], allowHttp = false): EgressPolicy =>
  createEgressPolicy({ allowHttp, allow });

function reasonFor(url: string, p: EgressPolicy = strict): string {
  const result = checkWebhookUrl(url, p);
  if (result.ok) throw new Error(`expected ${url} to be rejected`);
  return result.reason;
}

describe('checkWebhookUrl', () => {
  it.each([
    'https://example.com/hook',
    'https://hooks.example.com:8443/a?b=c',
    'https://93.184.216.34/x',
    'https://[2606:4700:4700::1111]/',
    'https://[64:ff9b::808:808]/',
    'https://localhost.example.com/',
    'https://internal.example.com/',
  ])('accepts the public URL %s', (url) => {
    const result = checkWebhookUrl(url, strict);
    expect(result).toMatchObject({ ok: true });
    expect(result.ok && result.url.href).toBe(new URL(url).href);
  });

  it.each([
    // Host names that only mean something inside a machine or cluster.
    'https://localhost/',
    'https://LOCALHOST./',
    'https://localhost../',
    'https://api.localhost/',
    'https://metadata.google.internal/',
    'https://Metadata.Google.INTERNAL./',
    'https://printer.local/',
    'https://printer.LOCAL./',
    'https://db.default.svc/',
    'https://db.default.SVC./',
    'https://%6c%6fcalhost/',
    // IPv4 literals in every spelling the URL parser accepts.
    'https://127.0.0.1/',
    'https://2130706433/',
    'https://0x7f.0.0.1/',
    'https://0177.0.0.1/',
    'https://127.1/',
    'https://127.0.0.1.:443/',
    'https://0.0.0.0/',
    'https://0/',
    'https://169.254.169.254/latest/meta-data/',
    'https://100.64.0.1/',
    'https://224.0.0.1/',
    'https://240.0.0.1/',
    'https://255.255.255.255/',
    'https://10.1.2.3/',
    'https://172.16.0.1/',
    'https://172.31.255.255/',
    'https://192.168.1.1/',
    'https://192.0.2.1/',
    'https://198.51.100.7/',
    'https://203.0.113.9/',
    'https://198.18.0.1/',
    // IPv6 literals, including forms that embed a blocked IPv4 address.
    'https://[::1]/',
    'https://[::]/',
    'https://[fe80::1]/',
    'https://[fc00::1]/',
    'https://[fd12:3456::1]/',
    'https://[ff02::1]/',
    'https://[::ffff:127.0.0.1]/',
    'https://[::ffff:7f00:1]/',
    'https://[::ffff:169.254.169.254]/',
    'https://[64:ff9b::7f00:1]/',
    'https://[64:ff9b::10.0.0.1]/',
    'https://[64:ff9b:1::a9fe:a9fe]/',
    'https://[2002:7f00:1::]/',
    'https://[2001:db8::1]/',
    'https://[2001::1]/',
  ])('rejects %s with a reason', (url) => {
    expect(reasonFor(url)).toMatch(/^The (host|address) .+\.$/);
  });

  it('explains what kind of address or name was refused', () => {
    expect(reasonFor('https://2130706433/')).toContain('127.0.0.1 is a loopback address');
    expect(reasonFor('https://[64:ff9b::a00:1]/')).toContain('NAT64 form of 10.0.0.1');
    expect(reasonFor('https://169.254.169.254/')).toContain('link-local');
    expect(reasonFor('https://x.svc./')).toContain('"x.svc"');
  });

  it('rejects URLs that do not parse', () => {
    expect(reasonFor('not a url')).toBe('The URL is not valid.');
    expect(reasonFor('https://1.2.3.4.5/')).toBe('The URL is not valid.');
  });

  it('requires https unless plain http is enabled, and nothing else ever', () => {
    expect(reasonFor('http://example.com/')).toMatch(/https/);
    expect(checkWebhookUrl('http://example.com/', policy([], true))).toMatchObject({ ok: true });
    for (const url of ['ftp://example.com/', 'ws://example.com/', 'file:///etc/passwd']) {
      expect(reasonFor(url, policy([], true))).toMatch(/must use https/);
    }
    // The allow list names destinations, not schemes.
    expect(reasonFor('http://127.0.0.1/', policy(['127.0.0.1']))).toMatch(/https/);
  });

  it('rejects credentials in the URL', () => {
    expect(reasonFor('https://user:pass@example.com/')).toMatch(/username or password/);
    expect(reasonFor('https://user@example.com/')).toMatch(/username or password/);
    expect(reasonFor('https://:secret@example.com/')).toMatch(/username or password/);
    // Credentials stay refused for allow-listed hosts too.
    expect(reasonFor('https://u:p@localhost/', policy(['localhost']))).toMatch(/username/);
  });

  it('lets the allow list exempt a host name, on any port unless one is given', () => {
    expect(checkWebhookUrl('https://localhost:3000/', policy(['localhost']))).toMatchObject({
      ok: true,
    });
    expect(checkWebhookUrl('https://LOCALHOST./', policy(['localhost']))).toMatchObject({
      ok: true,
    });
    expect(reasonFor('https://api.localhost/', policy(['localhost']))).toMatch(/loopback/);
    const onPort = policy(['hooks.corp.internal:443']);
    expect(checkWebhookUrl('https://hooks.corp.internal/', onPort)).toMatchObject({ ok: true });
    expect(checkWebhookUrl('https://hooks.corp.internal:443/', onPort)).toMatchObject({
      ok: true,
    });
    expect(reasonFor('https://hooks.corp.internal:8443/', onPort)).toMatch(/internal/);
    expect(reasonFor('https://other.corp.internal/', onPort)).toMatch(/internal/);
  });

  it('lets the allow list exempt an IP, a CIDR range, and only the given port', () => {
    const ok = (url: string, allow: string[]): void =>
      expect(checkWebhookUrl(url, policy(allow)), url).toMatchObject({ ok: true });
    ok('https://127.0.0.1:9000/', ['127.0.0.1']);
    ok('https://2130706433/', ['127.0.0.1']);
    ok('https://[::ffff:127.0.0.1]/', ['127.0.0.1']);
    ok('https://10.20.30.40/', ['10.0.0.0/8']);
    ok('https://[::1]:8443/', ['[::1]:8443']);
    ok('https://[::1]/', ['::1']);
    ok('https://[fd00::5]/', ['fd00::/8']);
    // Without a port in the URL the scheme's default port is the one matched.
    const port80 = policy(['192.168.0.0/16:80'], true);
    expect(checkWebhookUrl('http://192.168.1.10/', port80)).toMatchObject({ ok: true });
    expect(reasonFor('https://192.168.1.10/', port80)).toMatch(/private/);

    expect(reasonFor('https://[::1]:9443/', policy(['[::1]:8443']))).toMatch(/loopback/);
    expect(reasonFor('https://[::1]/', policy(['[::1]:8443']))).toMatch(/loopback/);
    expect(reasonFor('https://11.0.0.1.nip.invalid.local/', policy(['10.0.0.0/8']))).toMatch(
      /\.local/,
    );
    expect(reasonFor('https://172.16.0.1/', policy(['10.0.0.0/8']))).toMatch(/private/);
    expect(reasonFor('https://127.0.0.2/', policy(['127.0.0.1']))).toMatch(/loopback/);
    // An IPv4 rule is not an IPv6 rule: the loopback of the other family stays blocked.
    expect(reasonFor('https://[::1]/', policy(['127.0.0.1']))).toMatch(/loopback/);
  });
});

describe('isBlockedAddress', () => {
  it.each([
    // IPv4 special ranges.
    '0.0.0.0',
    '0.1.2.3',
    '10.0.0.1',
    '100.64.0.1',
    '100.127.255.254',
    '127.0.0.1',
    '127.255.255.255',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.0.1',
    '192.0.0.1',
    '192.0.2.1',
    '192.88.99.1',
    '192.168.0.1',
    '198.18.0.1',
    '198.19.255.255',
    '198.51.100.1',
    '203.0.113.1',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    // Other IPv4 spellings.
    '2130706433',
    '0x7f.0.0.1',
    '0177.0.0.1',
    '127.1',
    // IPv6 special ranges.
    '::',
    '::1',
    '[::1]',
    'fe80::1',
    'fe80::1%eth0',
    'fc00::1',
    'fd00::1',
    'fec0::1',
    'ff02::1',
    '100::1',
    '2001:db8::1',
    '2001::1',
    '2001:0:4136:e378:8000:63bf:3fff:fdd2',
    '2001:2::1',
    '3fff::1',
    '5f00::1',
    '::2:0:0:1',
    '4000::1',
    // Embedded IPv4 forms carrying a blocked address.
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:0:808:808',
    '::127.0.0.1',
    '::10.0.0.1',
    '64:ff9b::7f00:1',
    '64:ff9b::a00:1',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b:1::a00:1',
    '64:ff9b:1:abcd::c0a8:1',
    '2002:7f00:1::',
    '2002:a00:1:1::1',
    '2002:c0a8:101::',
    '2600::5efe:a00:1',
    '2600::200:5efe:c0a8:101',
    '2600::5efe:127.0.0.1',
    'fe80::5efe:808:808',
    // Not an address at all: fail closed.
    'example.com',
    '',
    '1.2.3.4.5',
  ])('blocks %s', (ip) => {
    expect(isBlockedAddress(ip)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '100.63.255.255',
    '100.128.0.1',
    '172.15.255.255',
    '172.32.0.1',
    '192.167.255.255',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '[2606:4700:4700::1111]',
    '2a00:1450:4001:81a::200e',
    '::ffff:8.8.8.8',
    '::ffff:808:808',
    '::8.8.8.8',
    '64:ff9b::808:808',
    '64:ff9b::8.8.8.8',
    '64:ff9b:1::808:808',
    '2002:808:808::',
    '2002:808:808:1::5',
    '2600::5efe:808:808',
    '2600::200:5efe:808:808',
  ])('allows the public address %s', (ip) => {
    expect(isBlockedAddress(ip)).toBe(false);
  });
});

describe('parseAllowList', () => {
  it('parses hosts, IPs and CIDRs, each with an optional port', () => {
    expect(
      parseAllowList([
        '127.0.0.1',
        'localhost',
        '10.0.0.0/8',
        '[::1]:8443',
        'hooks.corp.example:443',
        '::1',
        'fd00::/8',
        '[fd00::/8]:443',
        '192.168.0.0/16:8080',
        ' Hooks.Example. ',
        '::ffff:10.0.0.1',
      ]),
    ).toEqual([
      { kind: 'ip', address: '127.0.0.1' },
      { kind: 'host', host: 'localhost' },
      { kind: 'cidr', network: '10.0.0.0', prefixLength: 8 },
      { kind: 'ip', address: '::1', port: 8443 },
      { kind: 'host', host: 'hooks.corp.example', port: 443 },
      { kind: 'ip', address: '::1' },
      { kind: 'cidr', network: 'fd00::', prefixLength: 8 },
      { kind: 'cidr', network: 'fd00::', prefixLength: 8, port: 443 },
      { kind: 'cidr', network: '192.168.0.0', prefixLength: 16, port: 8080 },
      { kind: 'host', host: 'hooks.example' },
      { kind: 'ip', address: '10.0.0.1' },
    ]);
  });

  it.each([
    ['', /empty/],
    ['10/8', /CIDR/],
    ['10.0.0.0/33', /CIDR/],
    ['::1/129', /CIDR/],
    ['127.1', /four decimal numbers/],
    ['0x7f.0.0.1', /four decimal numbers/],
    ['hooks.example:0', /port/],
    ['hooks.example:65536', /port/],
    ['hooks.example:https', /port/],
    ['[::1]:', /port/],
    ['[1.2.3.4]', /brackets/],
    ['fe80::1%eth0', /zone/],
    ['https://hooks.example', /hooks\.example/],
    ['a b', /not a host name/],
  ])('rejects %j with a message naming it', (entry, why) => {
    expect(() => parseAllowList([entry])).toThrow(why);
    expect(() => parseAllowList(['localhost', entry])).toThrow(`"${entry.trim()}"`);
  });

  it('freezes the policy built from it', () => {
    const p = createEgressPolicy({ allowHttp: false, allow: ['localhost'] });
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.allow)).toBe(true);
  });
});
