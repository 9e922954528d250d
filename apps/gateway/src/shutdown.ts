// The gateway's graceful shutdown: once, in order — no new work, no reconnects, the modules' goodbyes,
// then storage and the stream, and last the HA lease (a standby may open its own link at once).
import type { Shared } from "./shared.js";

export interface Shutdown {
  /** Stop everything (the same promise for every call). */
  stop(): Promise<void>;
  /** True from the moment stop() was first called. */
  readonly stopped: boolean;
}

export function createShutdown(s: Pick<Shared, "kit" | "log" | "http" | "stops" | "store" | "storeLock" | "lease">): Shutdown {
  let stopped = false;
  let stopping: Promise<void> | undefined;
  const shutdown = async () => {
    stopped = true;
    await shutdownInOrder(s);
  };
  return {
    stop: async () => (stopping ??= shutdown()),
    get stopped() {
      return stopped;
    },
  };
}

/** The order matters: no new work, no reconnects, the modules' goodbyes, then storage and the stream. */
async function shutdownInOrder(s: Pick<Shared, "kit" | "log" | "http" | "stops" | "store" | "storeLock" | "lease">): Promise<void> {
  const { kit, log } = s;
  const link = kit.lifecycle;
  link.endReconnects();
  log.info("shutting down");
  await s.http.close().catch((err: unknown) => log.error({ err }, "closing HTTP failed"));
  for (const fn of s.stops.reverse()) await Promise.resolve(fn()).catch((err: unknown) => log.error({ err }, "module stop failed"));
  await s.store?.close().catch((err: unknown) => log.error({ err }, "closing storage failed"));
  s.storeLock?.release();
  kit.ping.stop();
  await link.stop().catch((err: unknown) => log.error({ err }, "closing the stream failed"));
  // After the link is closed: a standby may open its own at once.
  await s.lease?.release().catch((err: unknown) => log.error({ err }, "releasing the lease failed"));
  log.info("stopped");
}
