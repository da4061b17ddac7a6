/** Coded HTTP errors (fastify style): every error body is `{statusCode, code, error, message, details?}`. */
import createError from '@fastify/error';

export const DeviceNotFoundError = createError<[string]>('VIGIL_ERR_DEVICE_NOT_FOUND', 'device "%s" is not known to this gateway', 404);
