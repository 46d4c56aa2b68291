/** Wire shapes of surveys and survey responses (SPEC §3–4). */
import { Type, type Static } from '@sinclair/typebox';
import { FreeObject, Nullable, Timestamp, Uuid } from '../http/schemas.js';

export const QUESTION_TYPES = ['rating', 'nps', 'text', 'single_choice', 'multi_choice'] as const;

export const AnswerSchema = Type.Object(
  {
    value: Type.Optional(Type.Union([Type.String({ maxLength: 10_000 }), Type.Number()])),
    choiceIds: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 }),
    ),
  },
  { additionalProperties: false },
);
export type Answer = Static<typeof AnswerSchema>;
export const AnswersSchema = Type.Record(Type.String({ maxLength: 100 }), AnswerSchema);
export type Answers = Static<typeof AnswersSchema>;

/** `data` of `survey.response_completed`. */
export const SurveyResponseCompletedDataSchema = Type.Object({
  responseId: Uuid,
  completedAt: Timestamp,
  answers: AnswersSchema,
  embeddedData: FreeObject,
  metadata: FreeObject,
});

export const SurveyResponseSchema = Type.Object({
  id: Uuid,
  surveyId: Uuid,
  answers: AnswersSchema,
  embeddedData: FreeObject,
  metadata: FreeObject,
  completed: Type.Boolean(),
  completedAt: Nullable(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
