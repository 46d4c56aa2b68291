/** Surveys, always read and written within one organization. */
import type { Clock } from '../clock.js';
import { iso } from '../clock.js';
import type { Executor, SurveysTable } from '../db/schema.js';
import { AppError, Problems, notFound } from '../errors.js';
import { keysetPage, type PageRequest } from '../http/pagination.js';
import { newId } from '../ids.js';
import { normalizeQuestions } from './questions.js';
import type { Question, QuestionInput } from './surveys.schemas.js';

export interface SurveyDto {
  id: string;
  organizationId: string;
  name: string;
  questions: Question[];
  createdAt: string;
  updatedAt: string;
}

export function parseQuestions(row: SurveysTable): Question[] {
  return JSON.parse(row.questions) as Question[];
}

export function toSurveyDto(row: SurveysTable): SurveyDto {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    questions: parseQuestions(row),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export async function getSurvey(
  db: Executor,
  organizationId: string,
  id: string,
): Promise<SurveysTable> {
  const row = await db
    .selectFrom('surveys')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('Survey');
  return row;
}

export async function listSurveys(
  db: Executor,
  organizationId: string,
  page: PageRequest,
): Promise<SurveysTable[]> {
  return db
    .selectFrom('surveys')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .$call(keysetPage(page))
    .execute();
}

function checkedQuestions(input: readonly QuestionInput[]): Question[] {
  const problems = new Problems();
  const questions = normalizeQuestions(input, problems);
  problems.throwIfAny();
  return questions;
}

export async function createSurvey(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  input: { name: string; questions: QuestionInput[] },
): Promise<SurveysTable> {
  const questions = checkedQuestions(input.questions);
  const now = clock.now();
  const row: SurveysTable = {
    id: newId(),
    organization_id: organizationId,
    name: input.name,
    questions: JSON.stringify(questions),
    created_at: now,
    updated_at: now,
  };
  await trx.insertInto('surveys').values(row).execute();
  return row;
}

/**
 * Existing responses keep their answers when questions change; a partial one
 * is validated against the new questions when it is next changed.
 */
export async function updateSurvey(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  id: string,
  patch: { name?: string; questions?: QuestionInput[] },
): Promise<SurveysTable> {
  const current = await getSurvey(trx, organizationId, id);
  const questions =
    patch.questions === undefined
      ? current.questions
      : JSON.stringify(checkedQuestions(patch.questions));
  const name = patch.name ?? current.name;
  if (name === current.name && questions === current.questions) return current;
  const next: SurveysTable = { ...current, name, questions, updated_at: clock.now() };
  await trx
    .updateTable('surveys')
    .set({ name, questions, updated_at: next.updated_at })
    .where('id', '=', id)
    .execute();
  return next;
}

/**
 * Its responses, webhooks and their deliveries go with it (foreign-key
 * cascade); its events stay in the outbox. Webhooks are managed by admins
 * only, so a caller who may not delete them (`mayDeleteWebhooks` false: an
 * agent) may not delete a survey that has any either: 403 `forbidden`,
 * nothing changed.
 * `lockRows` (where writers are concurrent) holds the survey row while
 * counting, as creating a survey webhook does, so none slips in between the
 * count and the delete; SQLite has a single writer anyway.
 */
export async function deleteSurvey(
  trx: Executor,
  organizationId: string,
  id: string,
  opts: { mayDeleteWebhooks: boolean; lockRows: boolean },
): Promise<void> {
  if (!opts.mayDeleteWebhooks) await assertNoWebhooks(trx, organizationId, id, opts.lockRows);
  const result = await trx
    .deleteFrom('surveys')
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw notFound('Survey');
}

async function assertNoWebhooks(
  trx: Executor,
  organizationId: string,
  id: string,
  lockRows: boolean,
): Promise<void> {
  const survey = await trx
    .selectFrom('surveys')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .$if(lockRows, (q) => q.forUpdate())
    .executeTakeFirst();
  if (!survey) throw notFound('Survey');
  const webhook = await trx
    .selectFrom('webhooks')
    .select('id')
    .where('survey_id', '=', id)
    .limit(1)
    .executeTakeFirst();
  if (webhook) {
    throw new AppError(
      'forbidden',
      'This survey has webhooks, which only an admin may delete: an admin API key is needed to delete it.',
    );
  }
}
