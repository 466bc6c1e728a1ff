import winston from 'winston';
import type { LookoutConfig } from '../config/schema.ts';

export type Logger = winston.Logger;

/** JSON lines on stdout; a readable colour format when stdout is a terminal (unless told otherwise). */
export function createLogger(
  config: Pick<LookoutConfig, 'log'>,
  stream: NodeJS.WritableStream = process.stdout,
): Logger {
  const pretty =
    config.log.format === 'pretty' ||
    (config.log.format === 'auto' && (stream as { isTTY?: boolean }).isTTY === true);
  const format = pretty
    ? winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.colorize(),
        winston.format.printf(({ timestamp, level, message, ...meta }) => {
          const rest = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
          return `${String(timestamp)} ${level} ${String(message)}${rest}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.json());
  return winston.createLogger({
    level: config.log.level,
    format,
    transports: [new winston.transports.Stream({ stream })],
  });
}
