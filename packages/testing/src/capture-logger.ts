// A logger that keeps what was logged, for asserting on it. It has the shape of @xmppkit/core's Logger
// (pino's calls), and its lines look like pino's JSON lines: numeric `level`, `msg`, bindings and fields.

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

/** pino's level numbers. */
export const LOG_LEVELS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export type LogLine = Record<string, unknown> & { level: number; msg?: string };

type LogFn = { (obj: object, msg?: string): void; (msg: string): void };
export type CapturingLogger = { [L in LogLevel]: LogFn } & { child(bindings: Record<string, unknown>): CapturingLogger };

/** Errors as pino's serializer shows them: type, message, stack and own fields. */
function serialize(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  return { ...(value as unknown as Record<string, unknown>), type: value.name, message: value.message, stack: value.stack };
}

/** Lines at `level` and above are kept (default "debug"). */
export function captureLogger(level: LogLevel = "debug"): { logger: CapturingLogger; lines(): LogLine[] } {
  const kept: LogLine[] = [];
  const min = LOG_LEVELS[level];
  const make = (bindings: Record<string, unknown>): CapturingLogger => {
    const at = (name: LogLevel): LogFn =>
      ((objOrMsg: object | string, msg?: string) => {
        if (LOG_LEVELS[name] < min) return;
        const fields = typeof objOrMsg === "string" ? {} : Object.fromEntries(Object.entries(objOrMsg).map(([k, v]) => [k, serialize(v)]));
        const text = typeof objOrMsg === "string" ? objOrMsg : msg;
        kept.push({ level: LOG_LEVELS[name], time: Date.now(), ...bindings, ...fields, ...(text !== undefined ? { msg: text } : {}) });
      }) as LogFn;
    return {
      trace: at("trace"),
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
      fatal: at("fatal"),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return { logger: make({}), lines: () => kept.map((l) => ({ ...l })) };
}
