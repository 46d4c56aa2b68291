/** `/api/surveys/{id}/responses`: answers to one survey, partial or completed. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { authOf } from '../http/auth.js';
import type { AppDeps } from '../http/deps.js';
import { PageOf, PageQuery, pageRequest, toPage } from '../http/pagination.js';
import { TAG } from '../http/openapi-tags.js';
import { examplePage } from '../http/shared.examples.js';
import {
  ErrorResponse,
  FreeObject,
  IdParams,
  errorResponses,
  withExamples,
} from '../http/schemas.js';
import {
  createResponse,
  getResponse,
  listResponses,
  toResponseDto,
  updateResponse,
} from './responses.service.js';
import {
  completedResponseExample,
  createResponseExample,
  patchResponseExample,
  responseExample,
} from './surveys.examples.js';
import { AnswersInputSchema, AnswersPatchSchema, SurveyResponseSchema } from './surveys.schemas.js';

const ResponseParams = Type.Object({
  id: Type.String({ maxLength: 100 }),
  responseId: Type.String({ maxLength: 100 }),
});

export function responseRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { db } = deps.database;
  const { clock } = deps;
  return async (app) => {
    app.get(
      '/api/surveys/:id/responses',
      {
        schema: {
          tags: [TAG.surveys],
          summary: "List a survey's responses",
          description: 'Newest first; `completed` filters complete or partial ones.',
          params: IdParams,
          querystring: Type.Object(
            { ...PageQuery, completed: Type.Optional(Type.Boolean()) },
            { additionalProperties: false },
          ),
          response: {
            200: withExamples(PageOf(SurveyResponseSchema), examplePage(completedResponseExample)),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const page = pageRequest(request.query);
        const rows = await listResponses(
          db,
          authOf(request).organizationId,
          request.params.id,
          page,
          request.query.completed,
        );
        return toPage(rows, page.limit, toResponseDto);
      },
    );

    app.post(
      '/api/surveys/:id/responses',
      {
        schema: {
          tags: [TAG.surveys],
          summary: 'Submit a survey response',
          description:
            'Answers are validated against the survey. A completed response (the default) ' +
            'must answer every required question and raises `survey.response_completed`.',
          params: IdParams,
          body: withExamples(
            Type.Object(
              {
                answers: AnswersInputSchema,
                embeddedData: Type.Optional(FreeObject),
                metadata: Type.Optional(FreeObject),
                completed: Type.Optional(Type.Boolean({ default: true })),
              },
              { additionalProperties: false },
            ),
            createResponseExample,
          ),
          response: { 201: withExamples(SurveyResponseSchema, responseExample), ...errorResponses },
        },
      },
      async (request, reply) => {
        const { organizationId } = authOf(request);
        const row = await db
          .transaction()
          .execute((trx) =>
            createResponse(trx, clock, organizationId, request.params.id, request.body),
          );
        return reply.status(201).send(toResponseDto(row));
      },
    );

    app.get(
      '/api/surveys/:id/responses/:responseId',
      {
        schema: {
          tags: [TAG.surveys],
          summary: 'Get a survey response',
          params: ResponseParams,
          response: {
            200: withExamples(SurveyResponseSchema, completedResponseExample),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { id, responseId } = request.params;
        return toResponseDto(await getResponse(db, authOf(request).organizationId, id, responseId));
      },
    );

    app.patch(
      '/api/surveys/:id/responses/:responseId',
      {
        schema: {
          tags: [TAG.surveys],
          summary: 'Update a partial survey response',
          description:
            'Changes a partial response: answers merge per question (`null` removes one), ' +
            'embeddedData and metadata merge shallowly; `completed: true` completes it. ' +
            'A completed response cannot change (409).',
          params: ResponseParams,
          body: withExamples(
            Type.Object(
              {
                answers: Type.Optional(AnswersPatchSchema),
                embeddedData: Type.Optional(FreeObject),
                metadata: Type.Optional(FreeObject),
                completed: Type.Optional(Type.Boolean()),
              },
              { additionalProperties: false },
            ),
            patchResponseExample,
          ),
          response: {
            200: withExamples(SurveyResponseSchema, completedResponseExample),
            ...errorResponses,
            409: ErrorResponse,
          },
        },
      },
      async (request) => {
        const { organizationId } = authOf(request);
        const { id, responseId } = request.params;
        const row = await db
          .transaction()
          .execute((trx) =>
            updateResponse(trx, clock, organizationId, id, responseId, request.body),
          );
        return toResponseDto(row);
      },
    );
  };
}
