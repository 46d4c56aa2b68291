/**
 * The caller's identity on an authenticated request. Every repository call
 * is scoped by `auth.organizationId`, which is how another organization's ids
 * come to answer 404. How a request gets one (a bearer API key) is the
 * api-keys feature's business: src/api-keys/auth.ts.
 */
import type { FastifyRequest } from 'fastify';
import type { Role } from '../db/schema.js';
import { AppError } from '../errors.js';

export interface Auth {
  organizationId: string;
  userId: string;
  role: Role;
  apiKeyId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: Auth | null;
  }
  interface FastifyContextConfig {
    /** Route needs an admin's key. */
    adminOnly?: boolean;
  }
}

/** The caller's identity; only valid inside the authenticated API scope. */
export function authOf(request: FastifyRequest): Auth {
  if (!request.auth) throw new AppError('unauthorized');
  return request.auth;
}
