/** Wire shapes of surveys and survey responses (docs/api.md, "Resources"). */
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

export type QuestionType = (typeof QUESTION_TYPES)[number];

// An enum rather than a union of literals: Ajv then reports one problem, not one per literal.
export const QuestionTypeSchema = Type.Unsafe<QuestionType>({
  type: 'string',
  enum: [...QUESTION_TYPES],
});

/** Question and choice ids become keys of `answers`, so they stay plain. */
const QuestionId = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });

export const ChoiceSchema = Type.Object(
  { id: QuestionId, label: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

const questionFields = {
  id: QuestionId,
  type: QuestionTypeSchema,
  title: Type.String({ minLength: 1, maxLength: 500 }),
  choices: Type.Optional(
    Type.Array(ChoiceSchema, {
      minItems: 2,
      maxItems: 50,
      description: 'Required for single_choice and multi_choice; not allowed otherwise.',
    }),
  ),
  scale: Type.Optional(
    Type.Integer({ minimum: 2, maximum: 10, description: 'Rating questions only; default 5.' }),
  ),
};

export const QuestionInputSchema = Type.Object(
  { ...questionFields, required: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);
export type QuestionInput = Static<typeof QuestionInputSchema>;
export const QuestionsInputSchema = Type.Array(QuestionInputSchema, { minItems: 1, maxItems: 100 });

/** A stored question: `required` always present, `scale` always present on rating questions. */
export const QuestionSchema = Type.Object({ ...questionFields, required: Type.Boolean() });
export type Question = Static<typeof QuestionSchema>;

export const SurveyName = Type.String({ minLength: 1, maxLength: 200 });

export const SurveySchema = Type.Object({
  id: Uuid,
  organizationId: Uuid,
  name: Type.String(),
  questions: Type.Array(QuestionSchema),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** Answers in a request: never more keys than a survey can have questions. */
export const AnswersInputSchema = Type.Record(Type.String({ maxLength: 100 }), AnswerSchema, {
  maxProperties: 100,
});

/** Answers in a PATCH: `null` removes a stored answer (e.g. to a question since removed). */
export const AnswersPatchSchema = Type.Record(
  Type.String({ maxLength: 100 }),
  Type.Union([AnswerSchema, Type.Null()]),
  { maxProperties: 100 },
);
export type AnswersPatch = Static<typeof AnswersPatchSchema>;
