import type { Store } from "@xmppkit/core";
import { openSqliteStore } from "@xmppkit/runtime";
import { fakeTime } from "@xmppkit/testing";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openAuditLog } from "./audit-log.js";
import { trackRunStatus } from "./run-status.js";

describe("started, stopped, crashed (mod_audit_status's heartbeat)", () => {
  let store: Store;
  afterEach(async () => store?.close());

  it("a clean stop, then a start: no crash", async () => {
    store = await openSqliteStore(":memory:");
    const audit = await openAuditLog({ store }, { host: "gw.localhost", batch: { maxDelayMs: 1 } });
    const first = await trackRunStatus({ store, audit }, { instance: "gw.localhost" });
    await first.stop("SIGTERM");
    const second = await trackRunStatus({ store, audit }, { instance: "gw.localhost" });
    expect(second.crashed).toBeUndefined();
    await audit.flush();
    expect((await audit.query()).events.map((e) => e.type)).toEqual(["gateway-started", "gateway-stopped", "gateway-started"]); // newest first
    expect((await audit.query({ type: "gateway-stopped" })).events[0]!.note).toBe("gw.localhost stopped: SIGTERM");
  });

  it("a run that never stopped is recorded as crashed at its last heartbeat", async () => {
    store = await openSqliteStore(":memory:");
    const audit = await openAuditLog({ store }, { host: "gw.localhost", batch: { maxDelayMs: 1 } });
    // The heartbeat in fake time: it cannot beat between reading it and the next start.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    try {
      await trackRunStatus({ store, audit }, { instance: "gw.localhost", heartbeatMs: 20 });
      const started = (await store.kv<{ heartbeat: number; startedAt: number }>("audit-status").get("gw.localhost"))!;
      await fakeTime(vi).sleep(70); // a few heartbeats, then "the process dies"
      const last = (await store.kv<{ heartbeat: number }>("audit-status").get("gw.localhost"))!.heartbeat;
      expect(last).toBe(started.startedAt + 60);
      const next = await trackRunStatus({ store, audit }, { instance: "gw.localhost" });
      expect(next.crashed).toMatchObject({ type: "gateway-crashed", module: "gateway" });
      expect(next.crashed!.time.getTime()).toBe(last);
      expect(next.crashed!.note).toMatch(/ended without a shutdown; last heartbeat/);
    } finally {
      vi.useRealTimers();
    }
  });

  it("several gateways sharing one log keep their own status", async () => {
    store = await openSqliteStore(":memory:");
    const audit = await openAuditLog({ store }, { host: "a", batch: { maxDelayMs: 1 } });
    const a = await trackRunStatus({ store, audit }, { instance: "a.localhost" });
    const b = await trackRunStatus({ store, audit }, { instance: "b.localhost" });
    await a.stop();
    expect((await trackRunStatus({ store, audit }, { instance: "a.localhost" })).crashed).toBeUndefined();
    await b.stop();
  });
});
