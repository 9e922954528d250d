// @xmppkit/runtime: the implementations behind @xmppkit/core's interfaces, for the gateway and for bots
// that want them: pino logs, Prometheus metrics, a node:http server for the modules' routes, SQLite
// (libsql) and PostgreSQL (pg) stores, and zod option schemas for the modules' gateway definitions.
export { createLogger, type LoggerOptions, type PinoLogger } from "./logger.js";
export { createMetrics, type PrometheusMetrics } from "./metrics.js";
export {
  checkListen,
  createHttpServer,
  isLoopback,
  parseListen,
  type HttpOptions,
  type InjectRequest,
  type InjectResponse,
  type RunningHttpServer,
} from "./http.js";
export { isIpOrCidr } from "./http-client-ip.js";
export { openStore, sqliteFile, storeHealth, type StoreOptions } from "./store/open-store.js";
export { openStoreWhenReachable, storeErrorText, storeUnreachable, type StoreWaitOptions } from "./store/store-wait.js";
export { openSqliteStore, StoreNotFoundError, StoreNotMigratedError, type SqliteStoreOptions } from "./store/sqlite.js";
export { sqliteHealth, type StoreHealth, type StoreState, type StoreWatchOptions } from "./store/store-watch.js";
export { openPostgresStore } from "./store/postgres.js";
export { closestName, describeIssues, duration, editDistance, moduleOptions, parseConfigValue, parseOptions, z, zodIssues } from "./options.js";
export { fileLock, instanceName, LockedError, postgresLease, type FileLock, type Lease, type PostgresLeaseOptions } from "./lease.js";
export { systemdNotifier, watchdogInterval, type ServiceNotifier, type SystemdNotifierOptions } from "./sd-notify.js";
