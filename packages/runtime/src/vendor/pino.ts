// pino as one file (bundled by tsup): the logger loads this on its first createLogger() instead of pino's
// ~30 CommonJS modules (bench/startup: ~14 ms less). Transports (worker threads) are not used here; a
// pretty logger still loads pino-pretty from its own package.
export { pino } from "pino";
