/**
 * Cursor pagination over UUIDv7 primary keys (creation order). The cursor is
 * opaque to clients: base64url of the last id seen.
 */
import { Type } from '@sinclair/typebox';
import { sql, type SelectQueryBuilder } from 'kysely';
import { AppError } from '../errors.js';
import { isUuid } from '../ids.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
  cursor: Type.Optional(
    Type.String({ maxLength: 200, description: 'Opaque cursor from `nextCursor`.' }),
  ),
};

export interface PageRequest {
  limit: number;
  /** The id to continue after, decoded from the cursor. */
  after: string | undefined;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export function pageRequest(query: { limit?: number; cursor?: string }): PageRequest {
  const limit = query.limit ?? DEFAULT_LIMIT;
  if (query.cursor === undefined || query.cursor === '') return { limit, after: undefined };
  const id = Buffer.from(query.cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) {
    throw new AppError('validation_failed', 'cursor: is not a valid cursor', [
      { field: 'cursor', message: 'is not a valid cursor', in: 'query' },
    ]);
  }
  return { limit, after: id };
}

/**
 * The tail every list query shares: rows after the cursor, in id order, one
 * more than the page holds (so `toPage` knows whether a next page exists).
 * Use with Kysely's `$call`: `.$call(keysetPage(page))`. `column` names the
 * id in a joined query; `order` is newest first unless a list reads oldest
 * first (a ticket's messages).
 */
export function keysetPage(
  page: PageRequest,
  { column = 'id', order = 'desc' }: { column?: string; order?: 'asc' | 'desc' } = {},
) {
  return <DB, TB extends keyof DB, O>(
    q: SelectQueryBuilder<DB, TB, O>,
  ): SelectQueryBuilder<DB, TB, O> =>
    q
      .$if(page.after !== undefined, (q) =>
        q.where(sql.ref(column), order === 'desc' ? '<' : '>', page.after!),
      )
      .orderBy(sql.ref(column), order)
      .limit(page.limit + 1);
}

/** `rows` come from a `keysetPage` query: its one row over says whether a next page exists. */
export function toPage<R extends { id: string }, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
): Page<T> {
  const more = rows.length > limit;
  const slice = more ? rows.slice(0, limit) : rows;
  const last = slice[slice.length - 1];
  return {
    data: slice.map(map),
    nextCursor: more && last ? Buffer.from(last.id, 'utf8').toString('base64url') : null,
  };
}

export function PageOf<T extends ReturnType<typeof Type.Object>>(item: T) {
  return Type.Object({
    data: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
  });
}
