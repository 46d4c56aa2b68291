/** Example surveys and responses for /docs (see `withExamples`, http/schemas.ts): a CSAT survey. */
import type { Static } from '@sinclair/typebox';
import { EXAMPLE_AT, EXAMPLE_ID } from '../http/shared.examples.js';
import type { SurveyResponseSchema, SurveySchema } from './surveys.schemas.js';

export const createSurveyExample = {
  name: 'After-ticket satisfaction',
  questions: [
    {
      id: 'csat',
      type: 'rating' as const,
      title: 'How satisfied are you?',
      scale: 5,
      required: true,
    },
    {
      id: 'channel',
      type: 'single_choice' as const,
      title: 'How did you contact us?',
      choices: [
        { id: 'email', label: 'Email' },
        { id: 'sms', label: 'SMS' },
      ],
    },
    { id: 'comment', type: 'text' as const, title: 'Anything we could do better?' },
  ],
};

export const surveyExample: Static<typeof SurveySchema> = {
  id: EXAMPLE_ID.survey,
  organizationId: EXAMPLE_ID.organization,
  name: createSurveyExample.name,
  questions: createSurveyExample.questions.map((q) => ({ ...q, required: q.required ?? false })),
  createdAt: EXAMPLE_AT.created,
  updatedAt: EXAMPLE_AT.created,
};

export const patchSurveyExample = { name: 'Customer satisfaction (CSAT)' };

export const patchedSurveyExample = {
  ...surveyExample,
  ...patchSurveyExample,
  updatedAt: EXAMPLE_AT.updated,
};

export const createResponseExample = {
  answers: { csat: { value: 5 }, channel: { choiceIds: ['email'] } },
  embeddedData: { ticketId: EXAMPLE_ID.ticket },
  metadata: { userAgent: 'Mozilla/5.0' },
  completed: false,
};

export const responseExample: Static<typeof SurveyResponseSchema> = {
  id: EXAMPLE_ID.response,
  surveyId: EXAMPLE_ID.survey,
  answers: createResponseExample.answers,
  embeddedData: createResponseExample.embeddedData,
  metadata: createResponseExample.metadata,
  completed: false,
  completedAt: null,
  createdAt: EXAMPLE_AT.sent,
  updatedAt: EXAMPLE_AT.sent,
};

export const patchResponseExample = {
  answers: { comment: { value: 'Quick refund, thank you!' } },
  completed: true,
};

export const completedResponseExample = {
  ...responseExample,
  answers: { ...responseExample.answers, ...patchResponseExample.answers },
  completed: true,
  completedAt: EXAMPLE_AT.now,
  updatedAt: EXAMPLE_AT.now,
};
