// Structured logging for every role: pino to stderr, JSON by default, level from OPTINFER_LOG_LEVEL.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env.OPTINFER_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: undefined }, pino.destination(2));
}

/** A logger that drops everything: the default for library code under test. */
export const silentLogger: Logger = pino({ level: 'silent' });
