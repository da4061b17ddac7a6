/**
 * The error catalogue: every coded error the gateway answers with, its HTTP status and the exit
 * code of the command-line tools (README "Errors"). Errors are made with `@fastify/error`, so a
 * route throws one and the HTTP error handler answers `{statusCode, code, error, message, details?}`.
 *
 * Domain errors of `edge/` (an AlertError) carry a code and no status: the status is looked up here.
 */
import createError from '@fastify/error';

/** Exit codes of `vigil` and `npm run admin` (gateway/cli/common.ts). */
export const EXIT = { ok: 0, failed: 1, invalid: 2, unauthorized: 3, notFound: 4, unreachable: 5 } as const;

/** Code → HTTP status and meaning; the README table is this. */
export const catalogue = {
  VIGIL_ERR_VALIDATION: [400, 'the request does not match the route schema; `details` lists each field'],
  VIGIL_ERR_BULK_INVALID: [400, 'a bulk file has problems; nothing was applied; `details` lists every bad line'],
  VIGIL_ERR_NOT_A_CAMERA: [400, 'the device is not a camera'],
  VIGIL_ERR_UNKNOWN_COMMAND: [400, "the device's kind declares no such command; the message lists those it does"],
  VIGIL_ERR_UNAUTHORIZED: [401, 'no token, or a wrong or revoked one'],
  VIGIL_ERR_FORBIDDEN: [403, "the principal's role or sites do not allow it"],
  VIGIL_ERR_NOT_FOUND: [404, 'no such route, or an object that does not exist or is not yours'],
  VIGIL_ERR_DEVICE_NOT_FOUND: [404, "the device is not known, or not at the caller's sites"],
  VIGIL_ERR_ALERT_NOT_FOUND: [404, "the alert does not exist, or not at the caller's sites"],
  VIGIL_ERR_COMMAND_NOT_FOUND: [404, "the command does not exist, or not at the caller's sites"],
  VIGIL_ERR_ZONE_NOT_FOUND: [404, "the zone is not registered, or not at the caller's sites"],
  VIGIL_ERR_CONFLICT: [409, 'the object exists already'],
  VIGIL_ERR_ALERT_CLOSED: [409, 'the alert is resolved already'],
  VIGIL_ERR_MODEL_LOAD: [409, 'the model did not load; the running version keeps serving'],
  VIGIL_ERR_DEVICE_OFFLINE: [409, 'the device is not connected and the command was not to be queued (ttlS 0)'],
  VIGIL_ERR_COMMAND_REFUSED: [409, 'the command is refused in the present situation (an unlock during a forced entry without force)'],
  VIGIL_ERR_DISPATCH_REFUSED: [409, 'reinforcement cannot be sent for this alert now (closed, or its zone has no coordinates); the message says which'],
  VIGIL_ERR_VENDOR_REFUSED: [422, "a device's vendor payload (device adapters) cannot be read or mapped, or what it maps to is refused; the message says why"],
  VIGIL_ERR_INTERNAL: [500, 'a bug or a broken box; the gateway log has the cause'],
  VIGIL_ERR_BUSY: [503, 'the box sheds load (secret checks queued); retry after a moment'],
} as const satisfies Record<string, readonly [number, string]>;
export type ErrorCode = keyof typeof catalogue;

const make = (code: ErrorCode, message = '%s') => createError<[string]>(code, message, catalogue[code][0]);

export const ValidationError = make('VIGIL_ERR_VALIDATION');
export const NotACameraError = make('VIGIL_ERR_NOT_A_CAMERA');
export const UnauthorizedError = make('VIGIL_ERR_UNAUTHORIZED');
export const ForbiddenError = make('VIGIL_ERR_FORBIDDEN');
export const NotFoundError = make('VIGIL_ERR_NOT_FOUND');
export const DeviceNotFoundError = make('VIGIL_ERR_DEVICE_NOT_FOUND', 'device "%s" is not known to this gateway');
export const ConflictError = make('VIGIL_ERR_CONFLICT');
export const ModelLoadError = make('VIGIL_ERR_MODEL_LOAD');
export const BusyError = make('VIGIL_ERR_BUSY');
export const UnknownCommandError = make('VIGIL_ERR_UNKNOWN_COMMAND');
export const CommandNotFoundError = make('VIGIL_ERR_COMMAND_NOT_FOUND', 'command %s does not exist');
export const DeviceOfflineError = make('VIGIL_ERR_DEVICE_OFFLINE');
export const CommandRefusedError = make('VIGIL_ERR_COMMAND_REFUSED');
export const ZoneNotFoundError = make('VIGIL_ERR_ZONE_NOT_FOUND', 'zone %s is not registered');
export const DispatchRefusedError = make('VIGIL_ERR_DISPATCH_REFUSED');
export const VendorRefusedError = make('VIGIL_ERR_VENDOR_REFUSED');

/** A request whose fields are wrong, with each field's problem in `details`. */
export class FieldsInvalidError extends Error {
  readonly statusCode = catalogue.VIGIL_ERR_VALIDATION[0];
  readonly code = 'VIGIL_ERR_VALIDATION';
  constructor(
    message: string,
    readonly details: { path: string; message: string }[],
  ) {
    super(message);
  }
}

/** A bulk file with problems: nothing was applied; `details` lists every bad line. */
export class BulkInvalidError extends Error {
  readonly statusCode = catalogue.VIGIL_ERR_BULK_INVALID[0];
  readonly code = 'VIGIL_ERR_BULK_INVALID';
  constructor(
    readonly details: { path: string; message: string }[],
    nothing = 'nothing was provisioned',
    what = 'the bulk file',
  ) {
    super(
      `${details.length} problem(s) in ${what}; ${nothing}: ${details
        .slice(0, 3)
        .map((d) => `${d.path}: ${d.message}`)
        .join('; ')}`,
    );
  }
}

/** The status of any error: its own (a catalogue error, fastify's), else its code's, else 500. */
export function statusOf(err: { statusCode?: number; code?: string }): number {
  if (err.statusCode && err.statusCode >= 400) return err.statusCode;
  const entry = err.code ? (catalogue as Record<string, readonly [number, string]>)[err.code] : undefined;
  return entry ? entry[0] : 500;
}

/** The exit code of a CLI for an HTTP status (the same scheme for `vigil` over the API and `npm run admin` on the box). */
export function exitCodeOf(status: number): number {
  if (status === 400 || status === 409 || status === 413 || status === 422) return EXIT.invalid;
  if (status === 401 || status === 403) return EXIT.unauthorized;
  if (status === 404) return EXIT.notFound;
  if (status === 502 || status === 503 || status === 504) return EXIT.unreachable;
  return EXIT.failed;
}

/** The README's error table (`node --import tsx gateway/main.ts --errors-doc`), from the catalogue so the two cannot drift. */
export function errorsMarkdown(): string {
  const exitName = Object.fromEntries(Object.entries(EXIT).map(([k, v]) => [v, k]));
  return [
    '| code | HTTP | CLI exit | meaning |',
    '|---|---|---|---|',
    ...Object.entries(catalogue).map(
      ([code, [status, meaning]]) => `| \`${code}\` | ${status} | ${exitCodeOf(status)} (${exitName[exitCodeOf(status)]}) | ${meaning} |`,
    ),
  ].join('\n');
}
