/** Coded errors of the security domain; the HTTP layer maps `statusCode` and `code` as they are. */
import createError from '@fastify/error';

export const ConflictError = createError<[string]>('VIGIL_ERR_CONFLICT', '%s', 409);
export const NotFoundError = createError<[string]>('VIGIL_ERR_NOT_FOUND', '%s', 404);
export const UnauthorizedError = createError<[string]>('VIGIL_ERR_UNAUTHORIZED', '%s', 401);
export const ForbiddenError = createError<[string]>('VIGIL_ERR_FORBIDDEN', '%s', 403);

/** A bulk file with problems: nothing was provisioned; `details` lists every bad line. */
export class BulkInvalidError extends Error {
  readonly statusCode = 400;
  readonly code = 'VIGIL_ERR_BULK_INVALID';
  constructor(readonly details: { path: string; message: string }[]) {
    super(
      `${details.length} problem(s) in the bulk file; nothing was provisioned: ${details
        .slice(0, 3)
        .map((d) => `${d.path}: ${d.message}`)
        .join('; ')}`,
    );
  }
}
