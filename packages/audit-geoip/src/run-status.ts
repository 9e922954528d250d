// Started, stopped and crashed, with mod_audit_status's heartbeat technique: the status ("started") and a
// heartbeat time are kept in the store; a start that finds "started" still there knows the previous run
// ended without a shutdown, and records the crash at the last heartbeat.
import type { KeyValue, Store } from "@xmppkit/core";
import type { AuditEvent } from "./audit-event.js";
import type { AuditLog } from "./audit-log.js";

interface Status {
  status: "started" | "stopped";
  heartbeat: number;
  startedAt: number;
  pid?: number;
}

export interface RunStatusOptions {
  /** Which run this is: several gateways may share one PostgreSQL log (default: `host`). */
  instance: string;
  /** Event type prefix: "gateway" → gateway-started, gateway-stopped, gateway-crashed. */
  subject?: string;
  /** The module name on the events (default "gateway"). */
  module?: string;
  /** How often the heartbeat is written (`audit_status_heartbeat_interval`, default 60 s). */
  heartbeatMs?: number;
  /** Extra details for the started event (version, modules…). */
  details?: Record<string, unknown>;
}

export interface RunStatus {
  /** The crash found at start (the previous run's), if any. */
  readonly crashed: AuditEvent | undefined;
  /** Record the stop (with a reason for the note) and mark the run stopped. */
  stop(reason?: string): Promise<void>;
}

/** Record the start (and a previous crash), then keep the heartbeat until `stop()`. */
export async function trackRunStatus(deps: { store: Pick<Store, "kv">; audit: AuditLog }, options: RunStatusOptions): Promise<RunStatus> {
  const kv: KeyValue<Status> = deps.store.kv<Status>("audit-status");
  const subject = options.subject ?? "gateway";
  const module = options.module ?? "gateway";
  const key = options.instance;
  const heartbeatMs = options.heartbeatMs ?? 60_000;

  /** Lifecycle events are rare and matter most: written at once, not with the next batch. */
  const recordNow: AuditLog["record"] = async (input) => {
    const written = deps.audit.record(input);
    await deps.audit.flush();
    return written;
  };

  const previous = await kv.get(key);
  let crashed: AuditEvent | undefined;
  if (previous?.status === "started") {
    const last = new Date(previous.heartbeat);
    crashed = await recordNow({
      type: `${subject}-crashed`,
      module,
      time: last,
      note: `the previous run (started ${new Date(previous.startedAt).toISOString()}) ended without a shutdown; last heartbeat ${last.toISOString()}`,
      details: {
        instance: key,
        startedAt: new Date(previous.startedAt).toISOString(),
        lastHeartbeat: last.toISOString(),
        ...(previous.pid ? { pid: previous.pid } : {}),
      },
    });
  }
  const startedAt = Date.now();
  await recordNow({ type: `${subject}-started`, module, note: `${key} started`, details: { instance: key, pid: process.pid, ...options.details } });
  await kv.set(key, { status: "started", heartbeat: startedAt, startedAt, pid: process.pid });

  let beating: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    beating = kv.set(key, { status: "started", heartbeat: Date.now(), startedAt, pid: process.pid }).catch(() => undefined);
  }, heartbeatMs);
  timer.unref();

  let stopped = false;
  return {
    crashed,
    async stop(reason) {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await beating;
      await recordNow({
        type: `${subject}-stopped`,
        module,
        note: reason ? `${key} stopped: ${reason}` : `${key} stopped`,
        details: { instance: key, uptimeMs: Date.now() - startedAt },
      });
      await kv.set(key, { status: "stopped", heartbeat: Date.now(), startedAt });
    },
  };
}
