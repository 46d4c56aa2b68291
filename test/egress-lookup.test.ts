import type { LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  BlockedDestinationError,
  createEgressPolicy,
  createGuardedLookup,
  type Resolver,
} from '../src/egress/index.js';

const strict = createEgressPolicy({ allowHttp: false, allow: [] });

/** A resolver standing in for DNS, counting how often it is asked. */
function fakeResolver(answers: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = async (hostname: string) => {
    calls.push(hostname);
    const list = answers[hostname];
    if (list === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }) as const);
  };
  return Object.assign(resolver, { calls });
}

type Answer = { address: string | LookupAddress[]; family: number | undefined };

/** Calls a lookup the way net.connect does, with a bounded wait for the callback. */
function lookup(fn: LookupFunction, host: string, options: LookupOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('lookup did not call back')), 5_000);
    fn(host, options, (err, address, family) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve({ address, family });
    });
  });
}

describe('createGuardedLookup', () => {
  it('answers one checked public address, in both callback shapes', async () => {
    const resolver = fakeResolver({ 'hooks.example': ['93.184.216.34', '2606:2800:220:1::1'] });
    const fn = createGuardedLookup(strict, resolver);

    expect(await lookup(fn, 'hooks.example', {})).toEqual({
      address: '93.184.216.34',
      family: 4,
    });
    expect(await lookup(fn, 'hooks.example', { all: true })).toEqual({
      address: [{ address: '93.184.216.34', family: 4 }],
      family: undefined,
    });
    expect(await lookup(fn, 'hooks.example', { all: true, family: 6 })).toEqual({
      address: [{ address: '2606:2800:220:1::1', family: 6 }],
      family: undefined,
    });
    expect(await lookup(fn, 'hooks.example', { family: 'IPv6' })).toEqual({
      address: '2606:2800:220:1::1',
      family: 6,
    });
  });

  it('resolves exactly once per lookup, so a second answer cannot rebind', async () => {
    const resolver = fakeResolver({ 'hooks.example': ['93.184.216.34'] });
    const fn = createGuardedLookup(strict, resolver);
    await lookup(fn, 'hooks.example', { all: true });
    expect(resolver.calls).toEqual(['hooks.example']);
    await lookup(fn, 'hooks.example', {});
    expect(resolver.calls).toEqual(['hooks.example', 'hooks.example']);
  });

  it.each([
    [['93.184.216.34', '10.0.0.5']],
    [['10.0.0.5', '93.184.216.34']],
    [['93.184.216.34', '2606:2800:220:1::1', '::1']],
    [['2606:2800:220:1::1', '64:ff9b::a9fe:a9fe']],
    [['169.254.169.254']],
    [['::ffff:127.0.0.1']],
    [['not-an-address']],
  ])('refuses the host when any answer of %j is blocked', async (answers) => {
    const resolver = fakeResolver({ 'rebind.example': answers });
    const fn = createGuardedLookup(strict, resolver);
    for (const options of [{}, { all: true }]) {
      const error = await lookup(fn, 'rebind.example', options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BlockedDestinationError);
      expect(error).toMatchObject({ code: 'blocked_destination', host: 'rebind.example' });
      // The message reaches the tenant: it says what, never which address.
      const { message } = error as Error;
      expect(message).toMatch(/rebind\.example resolves to a private or internal address/);
      expect(message).not.toMatch(/\d+\.\d+\.\d+\.\d+|::|not-an-address|loopback|link-local/);
    }
    expect(resolver.calls).toHaveLength(2);
  });

  it('refuses local names without asking DNS', async () => {
    const resolver = fakeResolver({ 'db.default.svc': ['93.184.216.34'] });
    const fn = createGuardedLookup(strict, resolver);
    await expect(lookup(fn, 'db.default.svc', {})).rejects.toMatchObject({
      code: 'blocked_destination',
    });
    await expect(lookup(fn, 'api.LOCALHOST.', {})).rejects.toMatchObject({
      code: 'blocked_destination',
    });
    expect(resolver.calls).toEqual([]);
  });

  it('exempts allow-listed hosts and addresses, but only port-less rules', async () => {
    const resolver = fakeResolver({
      'hooks.corp.example': ['10.1.2.3'],
      'mixed.example': ['93.184.216.34', '10.1.2.3'],
      'other.example': ['192.168.1.1'],
    });
    const byHost = createGuardedLookup(
      createEgressPolicy({ allowHttp: false, allow: ['hooks.corp.example'] }),
      resolver,
    );
    expect(await lookup(byHost, 'hooks.corp.example', {})).toEqual({
      address: '10.1.2.3',
      family: 4,
    });
    const byRange = createGuardedLookup(
      createEgressPolicy({ allowHttp: false, allow: ['10.0.0.0/8'] }),
      resolver,
    );
    expect(await lookup(byRange, 'mixed.example', {})).toEqual({
      address: '93.184.216.34',
      family: 4,
    });
    await expect(lookup(byRange, 'other.example', {})).rejects.toBeInstanceOf(
      BlockedDestinationError,
    );
    // Node never tells a lookup the port, so a rule for one port cannot apply here.
    const onPort = createGuardedLookup(
      createEgressPolicy({ allowHttp: false, allow: ['hooks.corp.example:443'] }),
      resolver,
    );
    await expect(lookup(onPort, 'hooks.corp.example', {})).rejects.toBeInstanceOf(
      BlockedDestinationError,
    );
  });

  it('passes resolver failures through and reports a missing family as ENOTFOUND', async () => {
    const resolver = fakeResolver({ 'v4only.example': ['93.184.216.34'] });
    const fn = createGuardedLookup(strict, resolver);
    await expect(lookup(fn, 'missing.example', {})).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(lookup(fn, 'v4only.example', { family: 6 })).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
  });

  it('checks IP literals without resolving them', async () => {
    const resolver = fakeResolver({});
    const fn = createGuardedLookup(strict, resolver);
    expect(await lookup(fn, '93.184.216.34', {})).toEqual({ address: '93.184.216.34', family: 4 });
    await expect(lookup(fn, '127.0.0.1', {})).rejects.toBeInstanceOf(BlockedDestinationError);
    expect(resolver.calls).toEqual([]);
  });

  it('with the system resolver, refuses localhost unless it is allow-listed', async () => {
    const refused = await lookup(createGuardedLookup(strict), 'localhost', { all: true }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(BlockedDestinationError);

    const allowed = createGuardedLookup(
      createEgressPolicy({ allowHttp: false, allow: ['localhost'] }),
    );
    const { address } = await lookup(allowed, 'localhost', { all: true });
    expect(address).toHaveLength(1);
    expect(['127.0.0.1', '::1']).toContain((address as LookupAddress[])[0]!.address);
  });
});
