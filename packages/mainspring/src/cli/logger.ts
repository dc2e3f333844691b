import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { CliError } from './errors.js';

/** pino's levels, quietest last; `--log-level` takes one of them. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** The level: the flag, else `MS_LOG_LEVEL`, else `info`; anything else is a usage error. */
export function logLevelOf(flag: string | undefined): string {
  const level = flag ?? process.env.MS_LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new CliError(`invalid log level "${level}"; use one of ${LOG_LEVELS.join(', ')}`, 2);
  }
  return level;
}

/**
 * The server's one voice on stdout: coloured, one line per event, when a
 * person watches (stdout is a terminal); JSON lines otherwise, for a log
 * collector. Everything `serve` says after it starts (the address, the
 * install link, shutdown) goes through it, so a collector never meets a
 * line that is not JSON.
 */
export function cliLogger(level: string, tty = Boolean(process.stdout.isTTY)): Logger {
  if (!tty) return pino({ level });
  return pino({ level }, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true, sync: true }));
}
