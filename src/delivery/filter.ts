/**
 * Payload filters (docs/webhooks.md, "Filters"): a webhook's JSON object that
 * an event's envelope must match for the webhook to get a delivery of it.
 *
 * Checking and compiling are one walk (`compile`), so what the API accepts is
 * exactly what fan-out can evaluate. Fan-out compiles each webhook's stored
 * filter once (`storedFilter`, cached by its text) and runs the compiled
 * predicate on the envelope object the outbox built: no JSON parsing per
 * event or per webhook.
 *
 * Written here rather than taken from a MongoDB-query package (sift, mingo)
 * because what those would save is small next to what they would cost:
 * - checking stays ours anyway: they accept wrong types silently (`$in: "a"`,
 *   `$exists: "yes"`) where the API must answer 400 naming the field;
 * - they compare dates as strings (`"…10:00:00.000Z"` sorts before the same
 *   instant written `"…10:00:00Z"`, offsets compare wrongly), where we
 *   compare instants;
 * - they bring more than the contract (`$regex`, and in sift `$where`, which
 *   runs a string as code), each of which would have to be refused;
 * - the matcher is this one small file. Recorded in docs/architecture.md,
 *   "Dependencies and why".
 *
 * Lives in the engine layer (src/delivery) because fan-out runs it; the
 * webhooks API imports its checks from here.
 */

export const FILTER_MAX_BYTES = 4096;
export const FILTER_MAX_DEPTH = 10;

/** What an operator object may hold, in the order the docs list them. */
export const FILTER_OPERATORS = [
  '$eq',
  '$ne',
  '$in',
  '$nin',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$exists',
] as const;
type Operator = (typeof FILTER_OPERATORS)[number];
const OPERATORS: ReadonlySet<string> = new Set(FILTER_OPERATORS);

/** Is the envelope (the JSON body of the event, as an object) one the webhook wants? */
export type EventMatcher = (envelope: unknown) => boolean;

/** A problem with a filter; `path` is relative to the filter (`''` for the filter itself). */
export interface FilterProblem {
  path: string;
  message: string;
}

type Scalar = string | number | boolean | null;
type Problems = FilterProblem[];

const SCALAR = 'must be a string, number, boolean or null';
const LITERAL = `${SCALAR}, or an object of operators (${FILTER_OPERATORS.join(', ')})`;
const ORDERED = 'must be a number or an ISO 8601 date string';

/**
 * Every problem of a filter as the API received it; none means it can be
 * stored and compiled.
 */
export function filterProblems(filter: unknown): FilterProblem[] {
  return analyse(filter).problems;
}

/** The compiled form of a filter that `filterProblems` accepts; throws on any other. */
export function compileChecked(filter: unknown): EventMatcher {
  const { problems, matcher } = analyse(filter);
  const first = problems[0];
  if (first)
    throw new Error(`invalid webhook filter: ${first.path || '(filter)'} ${first.message}`);
  return matcher;
}

/**
 * Checks and compiles in one walk. Size and depth come first: a filter past
 * either is not looked into (the depth check itself looks no deeper than the
 * limit, so no nesting can exhaust the stack).
 */
function analyse(filter: unknown): { problems: FilterProblem[]; matcher: EventMatcher } {
  const refused = (message: string) => ({ problems: [{ path: '', message }], matcher: MATCH_ALL });
  if (!isPlainObject(filter)) return refused('must be an object or null');
  if (deeperThan(filter, FILTER_MAX_DEPTH)) {
    return refused(`must be nested at most ${FILTER_MAX_DEPTH} levels deep`);
  }
  if (Buffer.byteLength(JSON.stringify(filter)) > FILTER_MAX_BYTES) {
    return refused(`must be at most ${FILTER_MAX_BYTES} bytes as JSON`);
  }
  const problems: Problems = [];
  const matcher = compileFilter(filter, '', problems);
  return { problems, matcher };
}

const CACHE_LIMIT = 1000;
const cache = new Map<string, EventMatcher>();

/**
 * The matcher of a webhook's stored filter (`webhooks.filter`); null when it
 * has none. Compiled matchers are pure, so one per distinct text is kept and
 * shared (bounded: the cache starts over when full).
 */
export function storedFilter(text: string | null): EventMatcher | null {
  if (text === null) return null;
  let matcher = cache.get(text);
  if (matcher === undefined) {
    matcher = compileChecked(JSON.parse(text));
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(text, matcher);
  }
  return matcher;
}

// ---------------------------------------------------------------------------
// Compiling (and checking: problems are collected, the matcher is then unused)

const MATCH_ALL: EventMatcher = () => true;

function all(matchers: EventMatcher[]): EventMatcher {
  if (matchers.length === 0) return MATCH_ALL;
  if (matchers.length === 1) return matchers[0]!;
  return (envelope) => {
    for (const m of matchers) if (!m(envelope)) return false;
    return true;
  };
}

function compileFilter(filter: Record<string, unknown>, at: string, problems: Problems) {
  const matchers: EventMatcher[] = [];
  for (const [key, value] of Object.entries(filter)) {
    const path = join(at, key);
    if (key === '$and' || key === '$or') {
      const parts = compileList(value, path, problems);
      matchers.push(key === '$and' ? all(parts) : any(parts));
    } else if (key.startsWith('$')) {
      problems.push({
        path,
        message: 'is not a known operator: a filter’s keys are dotted paths, $and or $or',
      });
    } else if (!validPath(key)) {
      problems.push({ path, message: 'must be a dotted path of non-empty names' });
    } else {
      matchers.push(compileField(key.split('.'), value, path, problems));
    }
  }
  return all(matchers);
}

function any(matchers: EventMatcher[]): EventMatcher {
  return (envelope) => {
    for (const m of matchers) if (m(envelope)) return true;
    return false;
  };
}

/** `$and` / `$or`: a non-empty array of filters. */
function compileList(value: unknown, at: string, problems: Problems): EventMatcher[] {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push({ path: at, message: 'must be a non-empty array of filters (objects)' });
    return [];
  }
  return value.map((item: unknown, i) => {
    const path = `${at}[${i}]`;
    if (isPlainObject(item)) return compileFilter(item, path, problems);
    problems.push({ path, message: 'must be a filter (an object)' });
    return MATCH_ALL;
  });
}

function compileField(
  segments: string[],
  value: unknown,
  at: string,
  problems: Problems,
): EventMatcher {
  const tests: ((v: unknown) => boolean)[] = [];
  if (isScalar(value)) {
    tests.push(equalTo(value));
  } else if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [op, operand] of Object.entries(value)) {
      const test = compileOperator(op, operand, join(at, op), problems);
      if (test) tests.push(test);
    }
  } else if (isPlainObject(value)) {
    problems.push({ path: at, message: 'must hold at least one operator' });
  } else {
    problems.push({ path: at, message: LITERAL });
  }
  const test =
    tests.length === 1
      ? tests[0]!
      : (v: unknown) => {
          for (const t of tests) if (!t(v)) return false;
          return true;
        };
  return (envelope) => test(resolve(envelope, segments));
}

function compileOperator(
  name: string,
  operand: unknown,
  at: string,
  problems: Problems,
): ((v: unknown) => boolean) | null {
  if (!OPERATORS.has(name)) {
    const message = name.startsWith('$')
      ? `is not a known operator (${FILTER_OPERATORS.join(', ')})`
      : `is not an operator: an object of operators holds only ${FILTER_OPERATORS.join(', ')}; ` +
        'a nested field is named by a dotted path';
    problems.push({ path: at, message });
    return null;
  }
  const op = name as Operator;
  switch (op) {
    case '$eq':
    case '$ne': {
      if (!isScalar(operand)) return problem(problems, at, SCALAR);
      const eq = equalTo(operand);
      return op === '$eq' ? eq : (v) => !eq(v);
    }
    case '$in':
    case '$nin': {
      if (!Array.isArray(operand)) return problem(problems, at, 'must be an array');
      const wrong = operand.flatMap((item: unknown, i) => (isScalar(item) ? [] : [i]));
      for (const i of wrong) problem(problems, `${at}[${i}]`, SCALAR);
      if (wrong.length > 0) return null;
      const within = memberOf(new Set(operand as Scalar[]));
      return op === '$in' ? within : (v) => !within(v);
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return compileComparison(op, operand, at, problems);
    case '$exists':
      if (typeof operand !== 'boolean') return problem(problems, at, 'must be true or false');
      return operand ? (v) => v !== undefined : (v) => v === undefined;
  }
}

function problem(problems: Problems, path: string, message: string): null {
  problems.push({ path, message });
  return null;
}

type Compare = (a: number, b: number) => boolean;
const COMPARE: Record<'$gt' | '$gte' | '$lt' | '$lte', Compare> = {
  $gt: (a, b) => a > b,
  $gte: (a, b) => a >= b,
  $lt: (a, b) => a < b,
  $lte: (a, b) => a <= b,
};

/**
 * A number compares with number fields, an ISO 8601 date with date fields,
 * by instant. Any other field (absent, null, an array, another type, a string
 * that is no date) does not match.
 */
function compileComparison(
  op: '$gt' | '$gte' | '$lt' | '$lte',
  operand: unknown,
  at: string,
  problems: Problems,
): ((v: unknown) => boolean) | null {
  const compare = COMPARE[op];
  if (typeof operand === 'number') {
    return (v) => typeof v === 'number' && compare(v, operand);
  }
  const instant = typeof operand === 'string' ? isoInstant(operand) : null;
  if (instant === null) return problem(problems, at, ORDERED);
  return (v) => {
    if (typeof v !== 'string') return false;
    const t = isoInstant(v);
    return t !== null && compare(t, instant);
  };
}

// ---------------------------------------------------------------------------
// Evaluating

/** Equal to the literal; a field holding an array matches when one of its items is. */
function equalTo(literal: Scalar): (v: unknown) => boolean {
  return (v) => (Array.isArray(v) ? v.includes(literal) : v === literal);
}

function memberOf(set: ReadonlySet<Scalar>): (v: unknown) => boolean {
  return (v) => {
    if (Array.isArray(v)) {
      for (const item of v) if (set.has(item as Scalar)) return true;
      return false;
    }
    return set.has(v as Scalar);
  };
}

const INDEX = /^(?:0|[1-9]\d*)$/;

/**
 * The value at a dotted path: object properties by name (own ones only), array
 * items by index (`data.ticket.tags.0`); undefined where the path leads nowhere.
 */
function resolve(envelope: unknown, segments: readonly string[]): unknown {
  let node = envelope;
  for (const segment of segments) {
    if (Array.isArray(node)) {
      if (!INDEX.test(segment)) return undefined;
      node = node[Number(segment)];
    } else if (isPlainObject(node) && Object.hasOwn(node, segment)) {
      node = node[segment];
    } else {
      return undefined;
    }
  }
  return node;
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2})))?$/;

/**
 * Epoch milliseconds of an ISO 8601 date (`2026-01-15`, midnight UTC) or date
 * and time with a zone (`Z` or `±hh:mm`); null for anything else, including
 * dates that do not exist (`2026-02-30`).
 */
export function isoInstant(text: string): number | null {
  const m = ISO.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, , oh, om] = m.map(Number);
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > daysInMonth(y!, mo!)) return null;
  if (h! > 23 || mi! > 59 || s! > 59 || oh! > 23 || om! > 59) return null;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : t;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return leap ? 29 : 28;
}

// ---------------------------------------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): value is Scalar {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

function validPath(key: string): boolean {
  return key.split('.').every((segment) => segment.length > 0);
}

/** A problem path: `a.b` under an object key, as the API names fields. */
function join(at: string, key: string): string {
  return at === '' ? key : `${at}.${key}`;
}

/** Deeper than `max` levels (each object or array is one), looking no further than that. */
function deeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max === 0) return true;
  const children = Array.isArray(value) ? value : Object.values(value);
  for (const child of children as unknown[]) if (deeperThan(child, max - 1)) return true;
  return false;
}
