/**
 * Survey questions: the rules JSON Schema cannot express (unique ids, which
 * fields each question type takes), checked all at once so that a client sees
 * every problem by field, and the stored shape with its defaults filled in.
 */
import type { Problems } from '../errors.js';
import type { Question, QuestionInput, QuestionType } from './surveys.schemas.js';

export const DEFAULT_SCALE = 5;

export function isChoiceType(type: QuestionType): boolean {
  return type === 'single_choice' || type === 'multi_choice';
}

/**
 * Checks `input` (already valid against QuestionsInputSchema), adding problems
 * at `questions[i]…`, and returns the questions as they are stored.
 */
export function normalizeQuestions(
  input: readonly QuestionInput[],
  problems: Problems,
): Question[] {
  const firstIndex = new Map<string, number>();
  return input.map((q, i) => {
    const at = `questions[${i}]`;
    const earlier = firstIndex.get(q.id);
    if (earlier !== undefined) {
      problems.add(`${at}.id`, `duplicates the id of questions[${earlier}]`);
    } else {
      firstIndex.set(q.id, i);
    }
    // The JSON body parser refuses a `__proto__` key, so such a question could never be answered.
    if (q.id === '__proto__') problems.add(`${at}.id`, 'is reserved');

    const choiceType = isChoiceType(q.type);
    if (choiceType && q.choices === undefined) {
      problems.add(`${at}.choices`, `is required for ${q.type} questions`);
    } else if (!choiceType && q.choices !== undefined) {
      problems.add(`${at}.choices`, 'is only allowed for single_choice and multi_choice questions');
    }
    if (q.type !== 'rating' && q.scale !== undefined) {
      problems.add(`${at}.scale`, 'is only allowed for rating questions');
    }
    const firstChoice = new Map<string, number>();
    q.choices?.forEach((c, j) => {
      const seen = firstChoice.get(c.id);
      if (seen !== undefined) {
        problems.add(`${at}.choices[${j}].id`, `duplicates the id of ${at}.choices[${seen}]`);
      } else {
        firstChoice.set(c.id, j);
      }
    });

    const out: Question = { id: q.id, type: q.type, title: q.title, required: q.required ?? false };
    if (choiceType && q.choices) out.choices = q.choices.map((c) => ({ id: c.id, label: c.label }));
    if (q.type === 'rating') out.scale = q.scale ?? DEFAULT_SCALE;
    return out;
  });
}
