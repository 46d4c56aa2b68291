/**
 * Survey responses. A response is partial until it is completed, at creation
 * or by a later PATCH; completing it raises `survey.response_completed` in the
 * same transaction, and a completed response never changes again, so the
 * event is raised exactly once per response.
 */
import type { Clock } from '../clock.js';
import { iso } from '../clock.js';
import type { Executor, SurveyResponsesTable } from '../db/schema.js';
import { AppError, Problems, notFound } from '../errors.js';
import { emitEvents } from '../events/outbox.js';
import { keysetPage, type PageRequest } from '../http/pagination.js';
import { newId } from '../ids.js';
import { validateAnswers } from './answers.js';
import { getSurvey, parseQuestions } from './surveys.repository.js';
import type { Answer, Answers, AnswersPatch } from './surveys.schemas.js';

type FreeObject = Record<string, unknown>;

export interface ResponseInput {
  answers: Record<string, Answer>;
  embeddedData?: FreeObject;
  metadata?: FreeObject;
  /** Default true. */
  completed?: boolean;
}

export interface ResponsePatch {
  answers?: AnswersPatch;
  embeddedData?: FreeObject;
  metadata?: FreeObject;
  completed?: boolean;
}

export interface SurveyResponseDto {
  id: string;
  surveyId: string;
  answers: Answers;
  embeddedData: FreeObject;
  metadata: FreeObject;
  completed: boolean;
  completedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export function toResponseDto(row: SurveyResponsesTable): SurveyResponseDto {
  return {
    id: row.id,
    surveyId: row.survey_id,
    answers: JSON.parse(row.answers) as Answers,
    embeddedData: JSON.parse(row.embedded_data) as FreeObject,
    metadata: JSON.parse(row.metadata) as FreeObject,
    completed: row.completed_at !== null,
    completedAt: iso(row.completed_at),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** 404 unless the survey is the organization's and the response is that survey's. */
export async function getResponse(
  db: Executor,
  organizationId: string,
  surveyId: string,
  responseId: string,
): Promise<SurveyResponsesTable> {
  await getSurvey(db, organizationId, surveyId);
  return responseOf(db, organizationId, surveyId, responseId);
}

async function responseOf(
  db: Executor,
  organizationId: string,
  surveyId: string,
  responseId: string,
): Promise<SurveyResponsesTable> {
  const row = await db
    .selectFrom('survey_responses')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('survey_id', '=', surveyId)
    .where('id', '=', responseId)
    .executeTakeFirst();
  if (!row) throw notFound('Survey response');
  return row;
}

export async function listResponses(
  db: Executor,
  organizationId: string,
  surveyId: string,
  page: PageRequest,
  completed: boolean | undefined,
): Promise<SurveyResponsesTable[]> {
  await getSurvey(db, organizationId, surveyId);
  return db
    .selectFrom('survey_responses')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('survey_id', '=', surveyId)
    .$if(completed === true, (q) => q.where('completed_at', 'is not', null))
    .$if(completed === false, (q) => q.where('completed_at', 'is', null))
    .$call(keysetPage(page))
    .execute();
}

export async function createResponse(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  surveyId: string,
  input: ResponseInput,
): Promise<SurveyResponsesTable> {
  const survey = await getSurvey(trx, organizationId, surveyId);
  const completing = input.completed ?? true;
  const problems = new Problems();
  const answers = validateAnswers(
    parseQuestions(survey),
    new Map(Object.entries(input.answers)),
    completing,
    problems,
  );
  problems.throwIfAny();
  const now = clock.now();
  const embeddedData = input.embeddedData ?? {};
  const metadata = input.metadata ?? {};
  const row: SurveyResponsesTable = {
    id: newId(),
    organization_id: organizationId,
    survey_id: surveyId,
    answers: JSON.stringify(answers),
    embedded_data: JSON.stringify(embeddedData),
    metadata: JSON.stringify(metadata),
    completed_at: completing ? now : null,
    created_at: now,
    updated_at: now,
  };
  await trx.insertInto('survey_responses').values(row).execute();
  if (completing) await raiseCompleted(trx, clock, organizationId, row);
  return row;
}

/**
 * Merges `patch` into a partial response: answers per question (`null`
 * removes one), embeddedData and metadata shallowly. The merged answers are
 * validated again, and required questions too when `completed: true`.
 */
export async function updateResponse(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  surveyId: string,
  responseId: string,
  patch: ResponsePatch,
): Promise<SurveyResponsesTable> {
  const survey = await getSurvey(trx, organizationId, surveyId);
  const current = await responseOf(trx, organizationId, surveyId, responseId);
  assertPartial(current);
  const completing = patch.completed === true;
  const nothingToDo =
    !completing &&
    patch.answers === undefined &&
    patch.embeddedData === undefined &&
    patch.metadata === undefined;
  if (nothingToDo) return current;

  const merged = new Map(Object.entries(JSON.parse(current.answers) as Answers));
  for (const [questionId, answer] of Object.entries(patch.answers ?? {})) {
    if (answer === null) merged.delete(questionId);
    else merged.set(questionId, answer);
  }
  const problems = new Problems();
  const answers = validateAnswers(parseQuestions(survey), merged, completing, problems);
  problems.throwIfAny();

  const embeddedData = mergeShallow(current.embedded_data, patch.embeddedData);
  const metadata = mergeShallow(current.metadata, patch.metadata);
  const now = clock.now();
  const next: SurveyResponsesTable = {
    ...current,
    answers: JSON.stringify(answers),
    embedded_data: JSON.stringify(embeddedData),
    metadata: JSON.stringify(metadata),
    completed_at: completing ? now : null,
    updated_at: now,
  };
  // Compare-and-set: a concurrent request that completed or changed the row
  // since it was read makes this one a conflict, never a second event or a lost update.
  const result = await trx
    .updateTable('survey_responses')
    .set({
      answers: next.answers,
      embedded_data: next.embedded_data,
      metadata: next.metadata,
      completed_at: next.completed_at,
      updated_at: next.updated_at,
    })
    .where('id', '=', current.id)
    .where('completed_at', 'is', null)
    .where('answers', '=', current.answers)
    .where('embedded_data', '=', current.embedded_data)
    .where('metadata', '=', current.metadata)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    throw new AppError(
      'conflict',
      'The survey response was changed by another request; fetch it and try again.',
    );
  }
  if (completing) await raiseCompleted(trx, clock, organizationId, next);
  return next;
}

function assertPartial(row: SurveyResponsesTable): void {
  if (row.completed_at !== null) {
    throw new AppError('conflict', 'The survey response is already completed and cannot change.');
  }
}

function mergeShallow(stored: string, patch: FreeObject | undefined): FreeObject {
  const base = JSON.parse(stored) as FreeObject;
  if (patch === undefined) return base;
  return Object.fromEntries([...Object.entries(base), ...Object.entries(patch)]);
}

async function raiseCompleted(
  trx: Executor,
  clock: Clock,
  organizationId: string,
  row: SurveyResponsesTable,
): Promise<void> {
  await emitEvents(trx, clock, [
    {
      type: 'survey.response_completed',
      organizationId,
      surveyId: row.survey_id,
      data: {
        responseId: row.id,
        completedAt: iso(row.completed_at!),
        answers: JSON.parse(row.answers) as Answers,
        embeddedData: JSON.parse(row.embedded_data) as FreeObject,
        metadata: JSON.parse(row.metadata) as FreeObject,
      },
    },
  ]);
}
