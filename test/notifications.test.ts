import { expect, it } from 'vitest';
import { notifyAdmins } from '../src/notifications/notifications.js';
import { forEachDialect } from './support/harness.js';

forEachDialect('notifications', (h) => {
  it('notifies every admin once, lists newest first, and marks read', async () => {
    const org = await h.createOrg();
    const second = (
      await h.request({
        method: 'POST',
        url: '/api/users',
        key: org.apiKey,
        payload: { email: 'second@example.com', name: 'Second', role: 'admin' },
      })
    ).json();
    const agent = (
      await h.request({
        method: 'POST',
        url: '/api/users',
        key: org.apiKey,
        payload: { email: 'agent@example.com', name: 'Agent' },
      })
    ).json();
    const sent = await h.db.transaction().execute((trx) =>
      notifyAdmins(trx, h.clock, org.organizationId, {
        type: 'webhook_disabled',
        title: 'Webhook disabled',
        body: 'It failed 10 times.',
        data: { webhookId: 'w1' },
      }),
    );
    expect(sent.map((s) => s.userId).sort()).toEqual([org.adminUserId, second.id].sort());
    expect(sent.map((s) => s.userId)).not.toContain(agent.id);
    h.clock.advance(1000);
    await h.db.transaction().execute((trx) =>
      notifyAdmins(trx, h.clock, org.organizationId, {
        type: 'other',
        title: 'Later',
        body: '',
        data: {},
      }),
    );

    const list = (
      await h.request({ method: 'GET', url: '/api/notifications', key: org.apiKey })
    ).json();
    expect(list.data.map((n: { title: string }) => n.title)).toEqual(['Later', 'Webhook disabled']);
    const first = list.data[1];
    expect(first).toMatchObject({
      type: 'webhook_disabled',
      data: { webhookId: 'w1' },
      readAt: null,
    });

    const read = await h.request({
      method: 'POST',
      url: `/api/notifications/${first.id}/read`,
      key: org.apiKey,
    });
    expect(read.statusCode).toBe(200);
    expect(read.json().readAt).toBe(new Date(h.clock.now()).toISOString());
    const unread = (
      await h.request({ method: 'GET', url: '/api/notifications?unread=true', key: org.apiKey })
    ).json();
    expect(unread.data.map((n: { title: string }) => n.title)).toEqual(['Later']);
  });

  it("answers 404 for another user's or organization's notification", async () => {
    const a = await h.createOrg();
    const b = await h.createOrg();
    const [sent] = await h.db.transaction().execute((trx) =>
      notifyAdmins(trx, h.clock, b.organizationId, {
        type: 't',
        title: 'B only',
        body: '',
        data: {},
      }),
    );
    const res = await h.request({
      method: 'POST',
      url: `/api/notifications/${sent!.notificationId}/read`,
      key: a.apiKey,
    });
    expect(res.statusCode).toBe(404);
    expect(
      (await h.request({ method: 'GET', url: '/api/notifications', key: a.apiKey })).json().data,
    ).toEqual([]);
    const row = await h.db
      .selectFrom('notifications')
      .select('read_at')
      .where('id', '=', sent!.notificationId)
      .executeTakeFirstOrThrow();
    expect(row.read_at).toBeNull();
  });
});
