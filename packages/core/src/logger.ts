// The logger contract: the subset of pino's API that xmppkit calls, so a pino logger fits as it is and a bot
// can pass anything shaped like it (or nothing). Implementations live elsewhere (@xmppkit/runtime: pino).

/** pino's call shapes: `log.info({ jid }, "message")` or `log.info("message")`. */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A logger that adds `bindings` to every line (pino's child). */
  child(bindings: Record<string, unknown>): Logger;
}

const noop: LogFn = () => undefined;

/** A logger that discards everything (tests, libraries used without a logger). */
export function silentLogger(): Logger {
  const log: Logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop, child: () => log };
  return log;
}
