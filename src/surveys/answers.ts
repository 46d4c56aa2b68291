/**
 * Answers checked against a survey's questions. Every problem is added to the
 * collector at `answers.<questionId>…`, so one request reports them all.
 */
import type { Problems } from '../errors.js';
import { DEFAULT_SCALE, isChoiceType } from './questions.js';
import type { Answer, Answers, Question } from './surveys.schemas.js';

const MAX_TEXT_LENGTH = 10_000;

/**
 * Validates `answers` and returns them in the survey's question order, each
 * holding only the key its question type uses. With `requireAll`, every
 * required question must have an answer (the response is being completed).
 */
export function validateAnswers(
  questions: readonly Question[],
  answers: ReadonlyMap<string, Answer>,
  requireAll: boolean,
  problems: Problems,
): Answers {
  const byId = new Map(questions.map((q) => [q.id, q]));
  for (const [questionId, answer] of answers) {
    const question = byId.get(questionId);
    const at = `answers.${questionId}`;
    if (!question) problems.add(at, 'is not a question of this survey');
    else checkAnswer(question, answer, at, problems);
  }
  if (requireAll) {
    for (const q of questions) {
      if (q.required && !answers.has(q.id)) problems.add(`answers.${q.id}`, 'is required');
    }
  }
  // Object.fromEntries defines own properties, so no question id can reach a prototype.
  return Object.fromEntries(
    questions.flatMap((q): [string, Answer][] => {
      const a = answers.get(q.id);
      if (!a) return [];
      return [[q.id, isChoiceType(q.type) ? { choiceIds: a.choiceIds } : { value: a.value }]];
    }),
  );
}

function checkAnswer(q: Question, a: Answer, at: string, problems: Problems): void {
  switch (q.type) {
    case 'rating':
      checkInteger(a.value, 1, q.scale ?? DEFAULT_SCALE, `${at}.value`, problems);
      break;
    case 'nps':
      checkInteger(a.value, 0, 10, `${at}.value`, problems);
      break;
    case 'text':
      if (a.value === undefined) problems.add(`${at}.value`, 'is required for text questions');
      else if (typeof a.value !== 'string' || a.value.trim() === '')
        problems.add(`${at}.value`, 'must be a non-blank string');
      else if (a.value.length > MAX_TEXT_LENGTH)
        problems.add(`${at}.value`, `must be at most ${MAX_TEXT_LENGTH} characters`);
      break;
    case 'single_choice':
    case 'multi_choice':
      if (a.value !== undefined) {
        problems.add(`${at}.value`, `is not allowed for ${q.type} questions; use choiceIds`);
      }
      checkChoiceIds(q, a.choiceIds, `${at}.choiceIds`, problems);
      return;
  }
  if (a.choiceIds !== undefined) {
    problems.add(`${at}.choiceIds`, `is not allowed for ${q.type} questions; use value`);
  }
}

function checkInteger(
  value: unknown,
  min: number,
  max: number,
  at: string,
  problems: Problems,
): void {
  if (value === undefined) problems.add(at, 'is required');
  else if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    problems.add(at, `must be an integer from ${min} to ${max}`);
}

function checkChoiceIds(
  q: Question,
  choiceIds: readonly string[] | undefined,
  at: string,
  problems: Problems,
): void {
  if (choiceIds === undefined || choiceIds.length === 0) {
    problems.add(at, `is required for ${q.type} questions`);
    return;
  }
  if (q.type === 'single_choice' && choiceIds.length > 1) {
    problems.add(at, 'must hold exactly one choice id');
  }
  const valid = new Set((q.choices ?? []).map((c) => c.id));
  const seen = new Set<string>();
  choiceIds.forEach((id, i) => {
    if (!valid.has(id)) problems.add(`${at}[${i}]`, 'is not a choice of this question');
    else if (seen.has(id)) problems.add(`${at}[${i}]`, 'is listed more than once');
    seen.add(id);
  });
}
