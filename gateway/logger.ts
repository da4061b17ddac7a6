/** pino logger; each module takes a child with its own `module` binding. */
import { pino, type Logger } from 'pino';
import type { GatewayConfig } from './config.ts';

export type { Logger };

export function createLogger(cfg: GatewayConfig['log'], bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level: cfg.level,
    base: bindings,
    // Credentials never reach the logs, whatever a future caller passes in.
    redact: { paths: ['password', '*.password', 'token', '*.token', 'secret', '*.secret'], censor: '[redacted]' },
    ...(cfg.pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
