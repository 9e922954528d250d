// Logging: pino, JSON lines by default, human-readable in a terminal.
import { pino, type Logger as PinoLogger } from "pino";
import { Writable } from "node:stream";
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

/** A JSON logger that keeps its lines in memory, for asserting on what was logged (tests). */
export function captureLogger(level: LoggerOptions["level"] = "debug"): { logger: Logger; lines(): Record<string, unknown>[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    logger: createLogger({ level, format: "json", destination }),
    lines: () => chunks.join("").split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
