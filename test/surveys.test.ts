import { expect, it } from 'vitest';
import { iso } from '../src/clock.js';
import { forEachDialect, type Harness, type Org } from './support/harness.js';

const QUESTIONS = [
  { id: 'score', type: 'rating', title: 'How did we do?', required: true },
  { id: 'nps', type: 'nps', title: 'Would you recommend us?' },
  { id: 'why', type: 'text', title: 'Why?' },
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
    title: 'What was it about?',
    choices: [
      { id: 'billing', label: 'Billing' },
      { id: 'shipping', label: 'Shipping' },
    ],
    required: false,
  },
];

async function counts(h: Harness) {
  const count = async (table: 'surveys' | 'survey_responses' | 'events') =>
    Number(
      (
        await h.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    surveys: await count('surveys'),
    responses: await count('survey_responses'),
    events: await count('events'),
  };
}

function fields(res: { json: () => any }): string[] {
  return (res.json().error.details as { field: string }[]).map((d) => d.field);
}

forEachDialect('surveys', (h) => {
  const create = (org: Org, payload: object) =>
    h.request({ method: 'POST', url: '/api/surveys', key: org.apiKey, payload });

  it('creates a survey, filling in defaults, and reads it back', async () => {
    const org = await h.createOrg();
    const res = await create(org, { name: 'CSAT', questions: QUESTIONS });
    expect(res.statusCode).toBe(201);
    const survey = res.json();
    expect(Object.keys(survey).sort()).toEqual(
      ['createdAt', 'id', 'name', 'organizationId', 'questions', 'updatedAt'].sort(),
    );
    expect(survey).toMatchObject({
      organizationId: org.organizationId,
      name: 'CSAT',
      createdAt: iso(h.clock.now()),
      updatedAt: iso(h.clock.now()),
    });
    expect(survey.questions[0]).toEqual({
      id: 'score',
      type: 'rating',
      title: 'How did we do?',
      required: true,
      scale: 5,
    });
    expect(survey.questions[1]).toEqual({
      id: 'nps',
      type: 'nps',
      title: 'Would you recommend us?',
      required: false,
    });
    expect(survey.questions[3].choices).toEqual(QUESTIONS[3]!.choices);
    const got = await h.request({
      method: 'GET',
      url: `/api/surveys/${survey.id}`,
      key: org.apiKey,
    });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(survey);
  });

  it('keeps a given rating scale', async () => {
    const org = await h.createOrg();
    const res = await create(org, {
      name: 'Stars',
      questions: [{ id: 'stars', type: 'rating', title: 'Stars', scale: 10 }],
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().questions[0].scale).toBe(10);
  });

  it('rejects input the schema forbids, naming each field', async () => {
    const org = await h.createOrg();
    const before = await counts(h);
    const cases: [object, string[]][] = [
      [{ questions: QUESTIONS }, ['name']],
      [{ name: '', questions: QUESTIONS }, ['name']],
      [{ name: 'x'.repeat(201), questions: QUESTIONS }, ['name']],
      [{ name: 'S', questions: [] }, ['questions']],
      [{ name: 'S', questions: QUESTIONS, extra: 1 }, ['extra']],
      [{ name: 'S', questions: [{ id: 'a b', type: 'text', title: 'T' }] }, ['questions[0].id']],
      [{ name: 'S', questions: [{ id: 'a', type: 'essay', title: 'T' }] }, ['questions[0].type']],
      [{ name: 'S', questions: [{ id: 'a', type: 'text', title: '' }] }, ['questions[0].title']],
      [{ name: 'S', questions: [{ id: 'a', type: 'text' }] }, ['questions[0].title']],
      [
        { name: 'S', questions: [{ id: 'a', type: 'rating', title: 'T', scale: 11 }] },
        ['questions[0].scale'],
      ],
      [
        { name: 'S', questions: [{ id: 'a', type: 'rating', title: 'T', scale: 1.5 }] },
        ['questions[0].scale'],
      ],
      [
        { name: 'S', questions: [{ id: 'a', type: 'text', title: 'T', hint: 'x' }] },
        ['questions[0].hint'],
      ],
      [
        {
          name: 'S',
          questions: [
            { id: 'a', type: 'single_choice', title: 'T', choices: [{ id: 'x', label: 'X' }] },
          ],
        },
        ['questions[0].choices'],
      ],
      [
        {
          name: 'S',
          questions: Array.from({ length: 101 }, (_, i) => ({
            id: `q${i}`,
            type: 'text',
            title: 'T',
          })),
        },
        ['questions'],
      ],
    ];
    for (const [payload, expected] of cases) {
      const res = await create(org, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
      expect(fields(res)).toEqual(expect.arrayContaining(expected));
    }
    expect(await counts(h)).toEqual(before);
  });

  it('lists every rule JSON Schema cannot express together, by field', async () => {
    const org = await h.createOrg();
    const before = await counts(h);
    const res = await create(org, {
      name: 'Broken',
      questions: [
        { id: 'a', type: 'text', title: 'A' },
        { id: 'b', type: 'rating', title: 'B', choices: QUESTIONS[3]!.choices },
        { id: 'a', type: 'nps', title: 'C', scale: 5 },
        { id: 'd', type: 'single_choice', title: 'D' },
        {
          id: 'e',
          type: 'multi_choice',
          title: 'E',
          choices: [
            { id: 'x', label: 'X' },
            { id: 'y', label: 'Y' },
            { id: 'x', label: 'X again' },
          ],
        },
      ],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation_failed');
    expect(fields(res)).toEqual([
      'questions[1].choices',
      'questions[2].id',
      'questions[2].scale',
      'questions[3].choices',
      'questions[4].choices[2].id',
    ]);
    expect(res.json().error.details[1].message).toContain('questions[0]');
    expect(await counts(h)).toEqual(before);
  });

  it('lists newest first with cursor pagination', async () => {
    const org = await h.createOrg();
    const ids: string[] = [];
    for (const name of ['one', 'two', 'three']) {
      ids.push((await create(org, { name, questions: QUESTIONS })).json().id);
    }
    const first = await h.request({ method: 'GET', url: '/api/surveys?limit=2', key: org.apiKey });
    expect(first.statusCode).toBe(200);
    expect(first.json().data.map((s: { id: string }) => s.id)).toEqual([ids[2], ids[1]]);
    const cursor = first.json().nextCursor as string;
    expect(cursor).toEqual(expect.any(String));
    const second = await h.request({
      method: 'GET',
      url: `/api/surveys?limit=2&cursor=${cursor}`,
      key: org.apiKey,
    });
    expect(second.json()).toEqual({
      data: [expect.objectContaining({ id: ids[0] })],
      nextCursor: null,
    });
    for (const query of ['cursor=nonsense', 'limit=0', 'limit=201', 'sort=name']) {
      const bad = await h.request({ method: 'GET', url: `/api/surveys?${query}`, key: org.apiKey });
      expect(bad.statusCode, query).toBe(400);
    }
  });

  it('updates the name and questions with the same rules', async () => {
    const org = await h.createOrg();
    const survey = (await create(org, { name: 'Old', questions: QUESTIONS })).json();
    const patch = (payload: object) =>
      h.request({ method: 'PATCH', url: `/api/surveys/${survey.id}`, key: org.apiKey, payload });

    h.clock.advance(60_000);
    const renamed = await patch({ name: 'New' });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({ name: 'New', questions: survey.questions });
    expect(renamed.json().updatedAt).toBe(iso(h.clock.now()));
    expect(renamed.json().createdAt).toBe(survey.createdAt);

    const unchanged = await patch({});
    expect(unchanged.json()).toEqual(renamed.json());

    const bad = await patch({
      name: '',
      questions: [
        { id: 'x', type: 'text', title: 'X' },
        { id: 'x', type: 'text', title: 'Y' },
      ],
    });
    expect(bad.statusCode).toBe(400);
    expect(fields(bad)).toContain('name');
    const dup = await patch({
      questions: [
        { id: 'x', type: 'text', title: 'X' },
        { id: 'x', type: 'text', title: 'Y' },
      ],
    });
    expect(dup.statusCode).toBe(400);
    expect(fields(dup)).toEqual(['questions[1].id']);

    const replaced = await patch({ questions: [{ id: 'only', type: 'nps', title: 'NPS?' }] });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json().questions).toEqual([
      { id: 'only', type: 'nps', title: 'NPS?', required: false },
    ]);
    const got = await h.request({
      method: 'GET',
      url: `/api/surveys/${survey.id}`,
      key: org.apiKey,
    });
    expect(got.json()).toEqual(replaced.json());
  });

  it('deletes a survey together with its responses', async () => {
    const org = await h.createOrg();
    const survey = (await create(org, { name: 'Gone', questions: QUESTIONS })).json();
    const keep = (await create(org, { name: 'Kept', questions: QUESTIONS })).json();
    for (const s of [survey, keep]) {
      const res = await h.request({
        method: 'POST',
        url: `/api/surveys/${s.id}/responses`,
        key: org.apiKey,
        payload: { answers: { score: { value: 4 } } },
      });
      expect(res.statusCode).toBe(201);
    }
    const del = await h.request({
      method: 'DELETE',
      url: `/api/surveys/${survey.id}`,
      key: org.apiKey,
    });
    expect(del.statusCode).toBe(204);
    expect(del.body).toBe('');
    const responses = await h.db
      .selectFrom('survey_responses')
      .select('survey_id')
      .where('organization_id', '=', org.organizationId)
      .execute();
    expect(responses).toEqual([{ survey_id: keep.id }]);
    // The outbox keeps what was raised: it explains past deliveries.
    const events = await h.db
      .selectFrom('events')
      .select('id')
      .where('survey_id', '=', survey.id)
      .execute();
    expect(events).toHaveLength(1);
    for (const method of ['GET', 'DELETE'] as const) {
      const res = await h.request({ method, url: `/api/surveys/${survey.id}`, key: org.apiKey });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
  });

  it("answers 404 for another organization's survey and changes nothing", async () => {
    const a = await h.createOrg();
    const b = await h.createOrg();
    const theirs = (await create(b, { name: 'Theirs', questions: QUESTIONS })).json();
    const before = await counts(h);
    const url = `/api/surveys/${theirs.id}`;
    const attempts = [
      h.request({ method: 'GET', url, key: a.apiKey }),
      h.request({ method: 'PATCH', url, key: a.apiKey, payload: { name: 'Mine' } }),
      h.request({ method: 'DELETE', url, key: a.apiKey }),
      h.request({ method: 'GET', url: '/api/surveys/not-a-uuid', key: a.apiKey }),
    ];
    for (const res of await Promise.all(attempts)) expect(res.statusCode).toBe(404);
    const list = await h.request({ method: 'GET', url: '/api/surveys', key: a.apiKey });
    expect(list.json()).toEqual({ data: [], nextCursor: null });
    expect(await counts(h)).toEqual(before);
    const still = await h.request({ method: 'GET', url, key: b.apiKey });
    expect(still.json()).toEqual(theirs);
  });

  it('needs an API key', async () => {
    const res = await h.request({ method: 'GET', url: '/api/surveys' });
    expect(res.statusCode).toBe(401);
  });
});
