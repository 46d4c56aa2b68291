/** `/api/surveys`: the organization's surveys; their responses live in responses.routes.ts. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { PageOf, PageQuery, pageRequest, toPage } from '../http/pagination.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import { ErrorResponse, IdParams, errorResponses, withExamples } from '../http/schemas.js';
import { responseRoutes } from './responses.routes.js';
import {
  createSurvey,
  deleteSurvey,
  getSurvey,
  listSurveys,
  toSurveyDto,
  updateSurvey,
} from './surveys.repository.js';
import {
  createSurveyExample,
  patchSurveyExample,
  patchedSurveyExample,
  surveyExample,
} from './surveys.examples.js';
import { QuestionsInputSchema, SurveyName, SurveySchema } from './surveys.schemas.js';

export function surveyRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  const lockRows = deps.database.dialect.capabilities.concurrentWriters;
  return async (app) => {
    app.get(
      '/api/surveys',
      {
        schema: {
          tags: [TAG.surveys],
          summary: 'List surveys',
          description: 'Newest first.',
          querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
          response: {
            200: withExamples(PageOf(SurveySchema), examplePage(surveyExample)),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const page = pageRequest(request.query);
        const rows = await listSurveys(db, authOf(request).organizationId, page);
        return toPage(rows, page.limit, toSurveyDto);
      },
    );

    app.post(
      '/api/surveys',
      {
        schema: {
          tags: [TAG.surveys],
          summary: 'Create a survey',
          description:
            'Questions of type rating, nps, text, single_choice or multi_choice; choice questions list their choices.',
          body: withExamples(
            Type.Object(
              { name: SurveyName, questions: QuestionsInputSchema },
              { additionalProperties: false },
            ),
            createSurveyExample,
          ),
          response: { 201: withExamples(SurveySchema, surveyExample), ...errorResponses },
        },
      },
      async (request, reply) => {
        const { organizationId } = authOf(request);
        const row = await db
          .transaction()
          .execute((trx) => createSurvey(trx, clock, organizationId, request.body));
        return reply.status(201).send(toSurveyDto(row));
      },
    );

    app.get(
      '/api/surveys/:id',
      {
        schema: {
          tags: [TAG.surveys],
          summary: 'Get a survey',
          params: IdParams,
          response: { 200: withExamples(SurveySchema, surveyExample), ...errorResponses },
        },
      },
      async (request) =>
        toSurveyDto(await getSurvey(db, authOf(request).organizationId, request.params.id)),
    );

    app.patch(
      '/api/surveys/:id',
      {
        schema: {
          tags: [TAG.surveys],
          summary: 'Update a survey',
          description: 'Renames it or replaces its questions.',
          params: IdParams,
          body: withExamples(
            Type.Object(
              { name: Type.Optional(SurveyName), questions: Type.Optional(QuestionsInputSchema) },
              { additionalProperties: false },
            ),
            patchSurveyExample,
          ),
          response: { 200: withExamples(SurveySchema, patchedSurveyExample), ...errorResponses },
        },
      },
      async (request) => {
        const { organizationId } = authOf(request);
        const row = await db
          .transaction()
          .execute((trx) =>
            updateSurvey(trx, clock, organizationId, request.params.id, request.body),
          );
        return toSurveyDto(row);
      },
    );

    app.delete(
      '/api/surveys/:id',
      {
        schema: {
          tags: [TAG.surveys],
          summary: 'Delete a survey',
          description:
            'Deletes the survey with its responses, webhooks and their deliveries. ' +
            'A survey that has webhooks needs an admin key (403 `forbidden` for an agent).',
          params: IdParams,
          response: {
            204: Type.Null({ description: 'Deleted.' }),
            ...errorResponses,
            403: ErrorResponse,
          },
        },
      },
      async (request, reply) => {
        const { organizationId, role } = authOf(request);
        const opts = { mayDeleteWebhooks: role === 'admin', lockRows };
        await db
          .transaction()
          .execute((trx) => deleteSurvey(trx, organizationId, request.params.id, opts));
        return reply.status(204).send(null);
      },
    );

    await app.register(responseRoutes(deps));
  };
}
