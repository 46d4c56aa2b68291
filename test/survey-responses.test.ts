import { expect, it } from 'vitest';
import { iso } from '../src/clock.js';
import { updateResponse } from '../src/surveys/responses.service.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';

const QUESTIONS = [
  { id: 'rate', type: 'rating', title: 'Rate us', scale: 7, required: true },
  { id: 'nps', type: 'nps', title: 'Would you recommend us?' },
  { id: 'comment', type: 'text', title: 'Anything else?' },
  {
    id: 'channel',
    type: 'single_choice',
    title: 'How did you reach us?',
    choices: [
      { id: 'email', label: 'Email' },
      { id: 'phone', label: 'Phone' },
    ],
  },
  {
    id: 'topics',
    type: 'multi_choice',
    title: 'Topics',
    required: true,
    choices: [
      { id: 'billing', label: 'Billing' },
      { id: 'shipping', label: 'Shipping' },
      { id: 'returns', label: 'Returns' },
    ],
  },
];

const FULL = {
  rate: { value: 6 },
  nps: { value: 9 },
  comment: { value: 'Quick and friendly.' },
  channel: { choiceIds: ['email'] },
  topics: { choiceIds: ['billing', 'returns'] },
};

async function counts(h: Harness) {
  const count = async (table: 'survey_responses' | 'events') =>
    Number(
      (
        await h.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { responses: await count('survey_responses'), events: await count('events') };
}

const fields = (res: { json: () => any }): string[] =>
  (res.json().error.details as { field: string }[]).map((d) => d.field);

forEachDialect('survey responses', (h) => {
  async function setup(): Promise<{ org: Org; survey: { id: string }; url: string }> {
    const org = await h.createOrg();
    const res = await h.request({
      method: 'POST',
      url: '/api/surveys',
      key: org.apiKey,
      payload: { name: 'CSAT', questions: QUESTIONS },
    });
    expect(res.statusCode).toBe(201);
    const survey = res.json();
    return { org, survey, url: `/api/surveys/${survey.id}/responses` };
  }
  const post = (org: Org, url: string, payload: object) =>
    h.request({ method: 'POST', url, key: org.apiKey, payload });
  const patch = (org: Org, url: string, payload: object) =>
    h.request({ method: 'PATCH', url, key: org.apiKey, payload });
  const surveyEvents = (surveyId: string) =>
    h.db.selectFrom('events').selectAll().where('survey_id', '=', surveyId).execute();

  it('completes a response at once and raises one event with the exact envelope', async () => {
    const { org, survey, url } = await setup();
    // Given out of question order: answers come back in the survey's order.
    const answers = { topics: FULL.topics, rate: FULL.rate, comment: FULL.comment };
    const res = await post(org, url, {
      answers,
      embeddedData: { ticketId: 'T-1', nested: { a: [1, 2] } },
      metadata: { source: 'email' },
    });
    expect(res.statusCode).toBe(201);
    const response = res.json();
    const now = iso(h.clock.now());
    expect(response).toEqual({
      id: expect.any(String),
      surveyId: survey.id,
      answers: { rate: FULL.rate, comment: FULL.comment, topics: FULL.topics },
      embeddedData: { ticketId: 'T-1', nested: { a: [1, 2] } },
      metadata: { source: 'email' },
      completed: true,
      completedAt: now,
      createdAt: now,
      updatedAt: now,
    });
    expect(Object.keys(response.answers)).toEqual(['rate', 'comment', 'topics']);

    const events = await surveyEvents(survey.id);
    expect(events).toHaveLength(1);
    const event = events[0]!;
    expect(event).toMatchObject({
      organization_id: org.organizationId,
      survey_id: survey.id,
      ticket_id: null,
      type: 'survey.response_completed',
    });
    const payload = JSON.parse(event.payload);
    expect(Object.keys(payload)).toEqual(['surveyId', 'eventType', 'eventId', 'timestamp', 'data']);
    expect(payload).toEqual({
      surveyId: survey.id,
      eventType: 'survey.response_completed',
      eventId: event.id,
      timestamp: now,
      data: {
        responseId: response.id,
        completedAt: now,
        answers: response.answers,
        embeddedData: response.embeddedData,
        metadata: response.metadata,
      },
    });
    expect(Object.keys(payload.data)).toEqual([
      'responseId',
      'completedAt',
      'answers',
      'embeddedData',
      'metadata',
    ]);

    const got = await h.request({ method: 'GET', url: `${url}/${response.id}`, key: org.apiKey });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(response);
  });

  it('accepts every valid answer of each question type', async () => {
    const { org, survey, url } = await setup();
    const valid: [string, object][] = [
      ['rate', { value: 1 }],
      ['rate', { value: 7 }],
      ['nps', { value: 0 }],
      ['nps', { value: 10 }],
      ['comment', { value: 'x' }],
      ['comment', { value: 'é'.repeat(10_000) }],
      ['channel', { choiceIds: ['phone'] }],
      ['topics', { choiceIds: ['shipping'] }],
      ['topics', { choiceIds: ['returns', 'billing', 'shipping'] }],
    ];
    for (const [qid, answer] of valid) {
      const res = await post(org, url, { answers: { [qid]: answer }, completed: false });
      expect(res.statusCode, `${qid} ${JSON.stringify(answer)}`).toBe(201);
      expect(res.json().answers).toEqual({ [qid]: answer });
      expect(res.json()).toMatchObject({ completed: false, completedAt: null });
    }
    expect(await surveyEvents(survey.id)).toEqual([]);
  });

  it('rejects each invalid answer at its field and stores nothing', async () => {
    const { org, url } = await setup();
    const before = await counts(h);
    const invalid: [string, unknown, string][] = [
      ['rate', { value: 0 }, 'answers.rate.value'],
      ['rate', { value: 8 }, 'answers.rate.value'],
      ['rate', { value: 2.5 }, 'answers.rate.value'],
      ['rate', { value: '3' }, 'answers.rate.value'],
      ['rate', {}, 'answers.rate.value'],
      ['rate', { value: 3, choiceIds: ['email'] }, 'answers.rate.choiceIds'],
      ['rate', { value: 3, extra: true }, 'answers.rate.extra'],
      ['rate', 5, 'answers.rate'],
      ['nps', { value: -1 }, 'answers.nps.value'],
      ['nps', { value: 11 }, 'answers.nps.value'],
      ['nps', { value: 'ten' }, 'answers.nps.value'],
      ['comment', { value: '' }, 'answers.comment.value'],
      ['comment', { value: '   ' }, 'answers.comment.value'],
      ['comment', { value: 42 }, 'answers.comment.value'],
      ['comment', { value: 'x'.repeat(10_001) }, 'answers.comment.value'],
      ['comment', { value: 'ok', choiceIds: [] }, 'answers.comment.choiceIds'],
      ['channel', { choiceIds: [] }, 'answers.channel.choiceIds'],
      ['channel', {}, 'answers.channel.choiceIds'],
      ['channel', { choiceIds: ['email', 'phone'] }, 'answers.channel.choiceIds'],
      ['channel', { choiceIds: ['fax'] }, 'answers.channel.choiceIds[0]'],
      ['channel', { value: 'email', choiceIds: ['email'] }, 'answers.channel.value'],
      ['topics', { choiceIds: [] }, 'answers.topics.choiceIds'],
      ['topics', { choiceIds: ['billing', 'billing'] }, 'answers.topics.choiceIds[1]'],
      ['topics', { choiceIds: ['billing', 'nope'] }, 'answers.topics.choiceIds[1]'],
      ['topics', { value: 1, choiceIds: ['billing'] }, 'answers.topics.value'],
      ['unknown', { value: 1 }, 'answers.unknown'],
    ];
    for (const [qid, answer, field] of invalid) {
      const res = await post(org, url, { answers: { [qid]: answer }, completed: false });
      expect(res.statusCode, `${qid} ${JSON.stringify(answer)}`).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
      expect(fields(res), `${qid} ${JSON.stringify(answer)}`).toContain(field);
    }
    for (const payload of [{}, { answers: {}, extra: 1 }, { answers: {}, metadata: [] }]) {
      expect((await post(org, url, payload)).statusCode).toBe(400);
    }
    expect(await counts(h)).toEqual(before);
  });

  it('requires the required questions only when completing', async () => {
    const { org, url } = await setup();
    const before = await counts(h);
    const res = await post(org, url, { answers: { nps: { value: 3 } } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([
      { field: 'answers.rate', message: 'is required', in: 'body' },
      { field: 'answers.topics', message: 'is required', in: 'body' },
    ]);
    expect(await counts(h)).toEqual(before);
    const partial = await post(org, url, { answers: { nps: { value: 3 } }, completed: false });
    expect(partial.statusCode).toBe(201);
    expect((await counts(h)).events).toBe(before.events);
  });

  it('lists several problems together, each with its field', async () => {
    const { org, url } = await setup();
    const before = await counts(h);
    const res = await post(org, url, {
      answers: {
        rate: { value: 99 },
        ghost: { value: 'boo' },
        channel: { choiceIds: ['fax'] },
        comment: { value: '' },
      },
    });
    expect(res.statusCode).toBe(400);
    expect(fields(res)).toEqual([
      'answers.rate.value',
      'answers.ghost',
      'answers.channel.choiceIds[0]',
      'answers.comment.value',
      'answers.topics',
    ]);
    const { message } = res.json().error;
    for (const field of fields(res)) expect(message).toContain(field);
    expect(await counts(h)).toEqual(before);
  });

  it('completes a partial response by PATCH, raising the event once with the merged answers', async () => {
    const { org, survey, url } = await setup();
    const created = await post(org, url, {
      answers: { rate: { value: 2 }, nps: { value: 4 } },
      embeddedData: { ticketId: 'T-9', locale: 'en' },
      metadata: { source: 'web' },
      completed: false,
    });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    expect(await surveyEvents(survey.id)).toEqual([]);

    h.clock.advance(60_000);
    const step = await patch(org, `${url}/${id}`, {
      answers: { rate: { value: 5 }, channel: { choiceIds: ['phone'] } },
      embeddedData: { locale: 'fr' },
      completed: false,
    });
    expect(step.statusCode).toBe(200);
    expect(step.json()).toMatchObject({
      answers: { rate: { value: 5 }, nps: { value: 4 }, channel: { choiceIds: ['phone'] } },
      embeddedData: { ticketId: 'T-9', locale: 'fr' },
      completed: false,
      completedAt: null,
      updatedAt: iso(h.clock.now()),
    });
    expect(await surveyEvents(survey.id)).toEqual([]);

    // Completing without a required answer fails and leaves the response partial.
    const early = await patch(org, `${url}/${id}`, { completed: true });
    expect(early.statusCode).toBe(400);
    expect(fields(early)).toEqual(['answers.topics']);

    h.clock.advance(60_000);
    const done = await patch(org, `${url}/${id}`, {
      answers: { topics: { choiceIds: ['shipping'] }, nps: null },
      metadata: { agent: 'sam' },
      completed: true,
    });
    expect(done.statusCode).toBe(200);
    const completedAt = iso(h.clock.now());
    const expectedAnswers = {
      rate: { value: 5 },
      channel: { choiceIds: ['phone'] },
      topics: { choiceIds: ['shipping'] },
    };
    expect(done.json()).toMatchObject({
      answers: expectedAnswers,
      embeddedData: { ticketId: 'T-9', locale: 'fr' },
      metadata: { source: 'web', agent: 'sam' },
      completed: true,
      completedAt,
    });
    const events = await surveyEvents(survey.id);
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.payload).data).toEqual({
      responseId: id,
      completedAt,
      answers: expectedAnswers,
      embeddedData: { ticketId: 'T-9', locale: 'fr' },
      metadata: { source: 'web', agent: 'sam' },
    });

    // A completed response never changes again, and raises nothing more.
    const row = await h.db
      .selectFrom('survey_responses')
      .selectAll()
      .where('id', '=', id)
      .execute();
    for (const body of [{ completed: true }, { metadata: { x: 1 } }, {}, { completed: false }]) {
      const again = await patch(org, `${url}/${id}`, body);
      expect(again.statusCode).toBe(409);
      expect(again.json().error.code).toBe('conflict');
    }
    expect(await surveyEvents(survey.id)).toHaveLength(1);
    expect(
      await h.db.selectFrom('survey_responses').selectAll().where('id', '=', id).execute(),
    ).toEqual(row);
  });

  it('validates merged answers again, and null removes a stale one', async () => {
    const { org, survey, url } = await setup();
    const id = (
      await post(org, url, { answers: { rate: { value: 3 }, nps: { value: 8 } }, completed: false })
    ).json().id as string;
    const bad = await patch(org, `${url}/${id}`, { answers: { rate: { value: 9 } } });
    expect(bad.statusCode).toBe(400);
    expect(fields(bad)).toEqual(['answers.rate.value']);

    // The survey drops its nps question: the stored nps answer no longer validates.
    const kept = QUESTIONS.filter((q) => q.id !== 'nps');
    const edited = await h.request({
      method: 'PATCH',
      url: `/api/surveys/${survey.id}`,
      key: org.apiKey,
      payload: { questions: kept },
    });
    expect(edited.statusCode).toBe(200);
    const stale = await patch(org, `${url}/${id}`, { metadata: { a: 1 } });
    expect(stale.statusCode).toBe(400);
    expect(fields(stale)).toEqual(['answers.nps']);
    const cleaned = await patch(org, `${url}/${id}`, { answers: { nps: null } });
    expect(cleaned.statusCode).toBe(200);
    expect(cleaned.json().answers).toEqual({ rate: { value: 3 } });
    expect(cleaned.json().metadata).toEqual({});
  });

  it('rolls back the completion and its event together', async () => {
    const { org, survey, url } = await setup();
    const id = (await post(org, url, { answers: FULL, completed: false })).json().id as string;
    await expect(
      h.db.transaction().execute(async (trx) => {
        const row = await updateResponse(trx, h.clock, org.organizationId, survey.id, id, {
          completed: true,
        });
        expect(row.completed_at).toBe(h.clock.now());
        const inside = await trx
          .selectFrom('events')
          .select('id')
          .where('survey_id', '=', survey.id)
          .execute();
        expect(inside).toHaveLength(1);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await surveyEvents(survey.id)).toEqual([]);
    const got = await h.request({ method: 'GET', url: `${url}/${id}`, key: org.apiKey });
    expect(got.json()).toMatchObject({ completed: false, completedAt: null });
  });

  it('completes a response once when two requests race to complete it', async () => {
    const { org, survey, url } = await setup();
    const id = (await post(org, url, { answers: FULL, completed: false })).json().id as string;
    const results = await Promise.all(
      [1, 2, 3].map((n) => patch(org, `${url}/${id}`, { metadata: { n }, completed: true })),
    );
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, 409, 409]);
    expect(await surveyEvents(survey.id)).toHaveLength(1);
  });

  it('lists newest first, pages, and filters by completion', async () => {
    const { org, url } = await setup();
    const ids: string[] = [];
    for (const completed of [true, false, true]) {
      ids.push((await post(org, url, { answers: FULL, completed })).json().id);
    }
    const list = async (query: string) =>
      h.request({ method: 'GET', url: `${url}?${query}`, key: org.apiKey });
    const all = await list('');
    expect(all.statusCode).toBe(200);
    expect(all.json().data.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[1], ids[0]]);
    const done = await list('completed=true');
    expect(done.json().data.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[0]]);
    const open = await list('completed=false');
    expect(open.json().data.map((r: { id: string }) => r.id)).toEqual([ids[1]]);
    const page1 = await list('limit=2');
    expect(page1.json().data).toHaveLength(2);
    const page2 = await list(`limit=2&cursor=${page1.json().nextCursor}`);
    expect(page2.json()).toEqual({
      data: [expect.objectContaining({ id: ids[0] })],
      nextCursor: null,
    });
    for (const query of ['completed=maybe', 'cursor=zzz', 'other=1']) {
      expect((await list(query)).statusCode, query).toBe(400);
    }
  });

  it('answers 404 across surveys and organizations, changing nothing', async () => {
    const a = await setup();
    const b = await setup();
    const other = await h.request({
      method: 'POST',
      url: '/api/surveys',
      key: a.org.apiKey,
      payload: { name: 'Other', questions: QUESTIONS },
    });
    const otherUrl = `/api/surveys/${other.json().id}/responses`;
    const aResponse = (await post(a.org, a.url, { answers: FULL, completed: false })).json();
    const bResponse = (await post(b.org, b.url, { answers: FULL, completed: false })).json();
    const before = await counts(h);

    const notFound = [
      // b's survey and response through a's key
      await h.request({ method: 'GET', url: b.url, key: a.org.apiKey }),
      await post(a.org, b.url, { answers: FULL }),
      await h.request({ method: 'GET', url: `${b.url}/${bResponse.id}`, key: a.org.apiKey }),
      await patch(a.org, `${b.url}/${bResponse.id}`, { completed: true }),
      // b's response under a's own survey
      await h.request({ method: 'GET', url: `${a.url}/${bResponse.id}`, key: a.org.apiKey }),
      await patch(a.org, `${a.url}/${bResponse.id}`, { completed: true }),
      // a's response under another survey of a's
      await h.request({ method: 'GET', url: `${otherUrl}/${aResponse.id}`, key: a.org.apiKey }),
      await patch(a.org, `${otherUrl}/${aResponse.id}`, { completed: true }),
      await h.request({ method: 'GET', url: `${a.url}/not-a-uuid`, key: a.org.apiKey }),
      await post(a.org, '/api/surveys/not-a-uuid/responses', { answers: FULL }),
    ];
    for (const res of notFound) {
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
    expect(await counts(h)).toEqual(before);
    const bList = await h.request({ method: 'GET', url: b.url, key: b.org.apiKey });
    expect(bList.json().data).toEqual([bResponse]);
  });
});
