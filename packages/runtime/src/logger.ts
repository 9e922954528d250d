// Logging: pino, JSON lines by default, human-readable in a terminal. A pino logger is a core `Logger`.
// pino is loaded by the first createLogger(), and pino-pretty (with its dependencies) only for a pretty
// logger: a gateway under systemd or in a container writes JSON and never loads it.
import { createRequire } from "node:module";
import type { Logger } from "@xmppkit/core";
import type { Logger as PinoLogger, pino as Pino } from "pino";
import type PinoPretty from "pino-pretty";

export type { PinoLogger };

export interface LoggerOptions {
  level?: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
  /** "json" (default when not a TTY), "pretty" (default in a terminal). */
  format?: "json" | "pretty" | "auto";
  name?: string;
  /** Where to write (default stdout). */
  destination?: NodeJS.WritableStream;
}

/** createLogger is synchronous, so pino and pino-pretty are `require`d, from ESM and CJS alike. */
const load = (id: string) => createRequire(import.meta.url)(id) as unknown;

/** pino from its package (the one the application has too), at the first createLogger(). */
const loadPino = () => load("pino") as { pino: typeof Pino };

export function createLogger(options: LoggerOptions = {}): PinoLogger {
  const destination = options.destination ?? process.stdout;
  const format = options.format ?? "auto";
  const usePretty = format === "pretty" || (format === "auto" && (destination as { isTTY?: boolean }).isTTY === true);
  const base = { level: options.level ?? "info", ...(options.name ? { name: options.name } : {}) };
  const { pino } = loadPino();
  if (usePretty) {
    const pretty = load("pino-pretty") as typeof PinoPretty;
    return pino(base, pretty({ destination, sync: true, colorize: (destination as { isTTY?: boolean }).isTTY === true, ignore: "pid,hostname" }));
  }
  return pino(base, destination);
}

// A pino logger must stay usable where core asks for a Logger.
const _fits: (l: PinoLogger) => Logger = (l) => l;
void _fits;
