// Structured logging for every role: pino to stderr; readable lines on a terminal, JSON otherwise.
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Level from OPTINFER_LOG_LEVEL (default info). Format from OPTINFER_LOG_FORMAT: 'json', 'pretty', or unset
 * for pretty on a terminal and JSON when stderr is a file or a pipe (log collectors want JSON).
 */
export function createLogger(name: string, level = process.env.OPTINFER_LOG_LEVEL ?? 'info'): Logger {
  const format = process.env.OPTINFER_LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
  if (format === 'pretty') {
    return pino({
      name,
      level,
      base: undefined,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, translateTime: 'HH:MM:ss.l', ignore: 'name', singleLine: true },
      },
    });
  }
  return pino({ name, level, base: undefined }, pino.destination(2));
}

/** A logger that drops everything: the default for library code under test. */
export const silentLogger: Logger = pino({ level: 'silent' });
