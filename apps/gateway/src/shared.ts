// What the gateway's parts share while it runs: core's kit and the runtime's services, the loaded modules,
// and what shutdown must undo (the modules' stop hooks, the storage lock, the HA lease).
import type { EventBus, Kit, Logger, Store } from "@xmppkit/core";
import type { Lease, PrometheusMetrics, RunningHttpServer } from "@xmppkit/runtime";
import type { LoadedModule } from "./gateway.js";

export interface Shared {
  kit: Kit;
  log: Logger;
  events: EventBus;
  metrics: PrometheusMetrics;
  http: RunningHttpServer;
  store: Store | undefined;
  modules: Map<string, LoadedModule>;
  /** The modules' onStop hooks, in setup order (run in reverse). */
  stops: (() => void | Promise<void>)[];
  /** The SQLite file lock, once taken. */
  storeLock?: { release(): void } | undefined;
  /** The PostgreSQL lease (active/standby), once held. */
  lease?: Lease | undefined;
}
