// Logging: pino, JSON lines by default, human-readable in a terminal.
import { pino, type Logger as PinoLogger } from "pino";
import pretty from "pino-pretty";

export type Logger = PinoLogger;

export interface LoggerOptions {
  level?: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
  /** "json" (default when not a TTY), "pretty" (default in a terminal). */
  format?: "json" | "pretty" | "auto";
  name?: string;
  /** Where to write (default stdout). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stdout;
  const format = options.format ?? "auto";
  const usePretty = format === "pretty" || (format === "auto" && (destination as { isTTY?: boolean }).isTTY === true);
  const base = { level: options.level ?? "info", ...(options.name ? { name: options.name } : {}) };
  if (usePretty) {
    return pino(base, pretty({ destination, sync: true, colorize: (destination as { isTTY?: boolean }).isTTY === true, ignore: "pid,hostname" }));
  }
  return pino(base, destination);
}

/** A logger that discards everything (tests, libraries used without a logger). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
