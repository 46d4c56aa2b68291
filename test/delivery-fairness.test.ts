/**
 * The worker's shares of slots between organizations and destination hosts
 * (src/delivery/fairness.ts), as plain decisions: which deliveries need a
 * slow hold, when a share is full, which webhooks a claim should skip.
 */
import { describe, expect, it } from 'vitest';
import { Fairness, SLOW_ATTEMPT_MS, type Hold } from '../src/delivery/fairness.js';

const T0 = 1_000_000;

/** 16 slots, 4 per webhook, 25 %: a share of 4. */
function fairness() {
  const f = new Fairness({ concurrency: 16, perWebhook: 4, slowSharePercent: 25 });
  return f;
}

function take(f: Fairness, webhookId: string, n: number, now = T0): (Hold | null | 'over')[] {
  return Array.from({ length: n }, () => f.admit(webhookId, now));
}

describe('Fairness', () => {
  it.each([
    { concurrency: 32, perWebhook: 4, percent: 25, share: 8 },
    { concurrency: 16, perWebhook: 4, percent: 25, share: 4 },
    { concurrency: 8, perWebhook: 4, percent: 25, share: 4 },
    { concurrency: 100, perWebhook: 4, percent: 10, share: 10 },
    { concurrency: 1, perWebhook: 1, percent: 1, share: 1 },
  ])(
    'a share is $percent % of $concurrency slots, never below perWebhook ($share)',
    ({ concurrency, perWebhook, percent, share }) => {
      expect(new Fairness({ concurrency, perWebhook, slowSharePercent: percent }).share).toBe(
        share,
      );
    },
  );

  it('counts unknown webhooks against their organization and host until the share is full', () => {
    const f = fairness();
    f.learn('a1', 'org-a', 'https://tarpit.example/1');
    f.learn('a2', 'org-a', 'https://other.example/2');
    const first = take(f, 'a1', 4);
    expect(first.every((h) => h !== null && h !== 'over')).toBe(true);
    // a2 is on another host but in the same organization: one probe, then over.
    expect(f.admit('a2', T0)).not.toBe('over');
    expect(f.admit('a2', T0)).toBe('over');
    expect(f.admit('a1', T0)).toBe('over');
    expect(f.refused(T0).sort()).toEqual(['a1', 'a2']);
  });

  it('limits one host across organizations', () => {
    const f = fairness();
    for (const org of ['x', 'y', 'z', 'w', 'v'])
      f.learn(`hook-${org}`, `org-${org}`, 'https://shared.example/path');
    const holds = ['x', 'y', 'z', 'w'].flatMap((o) => take(f, `hook-${o}`, 1));
    expect(holds).not.toContain('over');
    // hook-v was never measured: it may probe once even though the host is full.
    expect(f.admit('hook-v', T0)).not.toBe('over');
    expect(f.admit('hook-v', T0)).toBe('over');
    expect(f.refused(T0)).toContain('hook-v');
  });

  it('a released hold makes room again, exactly once', () => {
    const f = fairness();
    f.learn('a1', 'org-a', 'https://tarpit.example/1');
    f.measured('a1', 10_000, T0); // known slow: no probe
    const holds = take(f, 'a1', 4);
    expect(f.admit('a1', T0)).toBe('over');
    f.release(holds[0] as Hold);
    expect(f.refused(T0)).toEqual([]);
    expect(f.admit('a1', T0)).not.toBe('over');
    expect(f.admit('a1', T0)).toBe('over');
  });

  it('webhooks that answer quickly need no hold, so a busy healthy organization uses every slot', () => {
    const f = fairness();
    f.learn('fast', 'org-a', 'https://fast.example/');
    f.measured('fast', 40, T0);
    expect(take(f, 'fast', 50, T0 + 10)).toEqual(Array(50).fill(null));
    expect(f.refused(T0)).toEqual([]);
  });

  it('a fast webhook stays unlimited while its organization is full of slow holds', () => {
    const f = fairness();
    f.learn('slow', 'org-a', 'https://tarpit.example/');
    f.learn('fast', 'org-a', 'https://fast.example/');
    f.measured('slow', 10_000, T0);
    f.measured('fast', 20, T0);
    take(f, 'slow', 4);
    expect(f.admit('slow', T0)).toBe('over');
    expect(f.admit('fast', T0)).toBeNull();
    expect(f.refused(T0)).toEqual(['slow']);
  });

  it.each([
    { durations: [50, 60, 40], fast: true },
    { durations: [10_000], fast: false },
    { durations: [50, 50, 10_000], fast: false },
    { durations: [10_000, 10, 10, 10, 10, 10, 10, 10, 10], fast: true },
    { durations: [SLOW_ATTEMPT_MS], fast: false },
  ])('after attempts of $durations ms the webhook is fast: $fast', ({ durations, fast }) => {
    const f = fairness();
    f.learn('w', 'org', 'https://w.example/');
    durations.forEach((d, i) => f.measured('w', d, T0 + i));
    expect(f.isFast('w', T0 + durations.length)).toBe(fast);
  });

  it('fast is forgotten after a minute without attempts; slow is not, and gets no probe', () => {
    const f = fairness();
    f.learn('was-fast', 'org', 'https://a.example/');
    f.learn('was-slow', 'org', 'https://b.example/');
    f.measured('was-fast', 10, T0);
    f.measured('was-slow', 10_000, T0);
    const later = T0 + 61_000;
    expect(f.isFast('was-fast', later)).toBe(false);
    // The organization is full (one filler webhook holds the whole share).
    f.learn('filler', 'org', 'https://c.example/');
    f.measured('filler', 10_000, later);
    take(f, 'filler', 4, later);
    expect(f.admit('was-slow', later)).toBe('over');
    expect(f.admit('was-fast', later)).not.toBe('over'); // a probe
    expect(f.admit('was-fast', later)).toBe('over');
  });

  it('a delivery whose webhook was never learned (deleted meanwhile) needs no hold', () => {
    expect(fairness().admit('gone', T0)).toBeNull();
  });
});
