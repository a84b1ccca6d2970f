import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger } from 'pino';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LoggerFactoryOptions {
  level?: LogLevel;
  name?: string;
  /** Where the JSON lines go; default stderr so stdout stays free for reports. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

/** pino JSON logger; one line per event, to stderr by default. */
export function createLogger(options: LoggerFactoryOptions = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { ...(options.name ? { name: options.name } : {}), ...(options.base ?? {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(opts, options.destination ?? pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything (library default). */
export const silentLogger: Logger = pino({ level: 'silent' });
