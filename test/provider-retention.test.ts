/**
 * Retention of provider event keys (the inbound deduplication table): kept
 * for HOOKDESK_RETENTION_DAYS, but never less than MIN_DEDUPE_DAYS, since a
 * provider may retry a delivery for up to 7 days (Meta) and a retry after its
 * key was pruned would be handled twice.
 */
import { expect, it } from 'vitest';
import { pruneOnce } from '../src/cli/retention.js';
import { firstSeen, MIN_DEDUPE_DAYS } from '../src/inbound/providers/channel.js';
import { CHANNEL_ENV, createChannel } from './support/channels.js';
import { forEachDialect } from './support/harness.js';

const DAY = 86_400_000;

forEachDialect(
  'provider event key retention',
  (h) => {
    it('prunes keys past the retention period, but none younger than MIN_DEDUPE_DAYS', async () => {
      const org = await h.createOrg();
      const { id } = await createChannel(h, org, {
        type: 'mailgun',
        credentials: { signingKey: 'k'.repeat(20) },
      });
      const channel = await h.db
        .selectFrom('channels')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      const seen = (key: string) =>
        h.db.transaction().execute((trx) => firstSeen(trx, h.clock, channel, key));
      const keys = async () =>
        (
          await h.db
            .selectFrom('provider_events')
            .select('dedupe_key')
            .where('channel_id', '=', id)
            .orderBy('dedupe_key')
            .execute()
        ).map((r) => r.dedupe_key);

      expect(await seen('old')).toBe(true);
      h.clock.advance(5 * DAY);
      expect(await seen('recent')).toBe(true);
      h.clock.advance((MIN_DEDUPE_DAYS - 5) * DAY + 1);

      // A 1-day retention keeps both: the older key is just past MIN_DEDUPE_DAYS.
      expect(await keys()).toEqual(['old', 'recent']);
      await pruneOnce(h.db, h.clock, 1);
      expect(await keys()).toEqual(['recent']);
      // Pruned: the same key would be taken as new; the kept one is still a replay.
      expect(await seen('recent')).toBe(false);

      // A 30-day retention keeps keys for 30 days ('recent' is 23, then 31 days old).
      h.clock.advance(20 * DAY);
      await pruneOnce(h.db, h.clock, 30);
      expect(await keys()).toEqual(['recent']);
      h.clock.advance(8 * DAY);
      await pruneOnce(h.db, h.clock, 30);
      expect(await keys()).toEqual([]);
    });
  },
  CHANNEL_ENV,
);
