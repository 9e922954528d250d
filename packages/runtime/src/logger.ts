// Logging: pino, JSON lines by default, human-readable in a terminal. A pino logger is a core `Logger`.
import type { Logger } from "@xmppkit/core";
import { pino, type Logger as PinoLogger } from "pino";
import pretty from "pino-pretty";

export type { PinoLogger };

export interface LoggerOptions {
  level?: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
  /** "json" (default when not a TTY), "pretty" (default in a terminal). */
  format?: "json" | "pretty" | "auto";
  name?: string;
  /** Where to write (default stdout). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): PinoLogger {
  const destination = options.destination ?? process.stdout;
  const format = options.format ?? "auto";
  const usePretty = format === "pretty" || (format === "auto" && (destination as { isTTY?: boolean }).isTTY === true);
  const base = { level: options.level ?? "info", ...(options.name ? { name: options.name } : {}) };
  if (usePretty) {
    return pino(base, pretty({ destination, sync: true, colorize: (destination as { isTTY?: boolean }).isTTY === true, ignore: "pid,hostname" }));
  }
  return pino(base, destination);
}

// A pino logger must stay usable where core asks for a Logger.
const _fits: (l: PinoLogger) => Logger = (l) => l;
void _fits;
