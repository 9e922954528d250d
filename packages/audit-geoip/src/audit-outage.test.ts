// The audit log while its database is unreachable: bounded memory, drops counted, one log line per outage.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "@xmppkit/core";
import { openSqliteStore } from "@xmppkit/runtime";
import { captureLogger, waitFor } from "@xmppkit/testing";
import { afterEach, describe, expect, it } from "vitest";
import { openAuditLog } from "./audit-log.js";

describe("audit log during a database outage", () => {
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-audit-outage-"));
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps up to maxQueued events, drops and counts the rest, says it once, and says when it is over", async () => {
    store = await openSqliteStore(join(dir, "audit.sqlite"));
    const insertMany = store.insertMany.bind(store);
    let down = true;
    store.insertMany = async (...args) => {
      if (down) throw new Error("database unreachable");
      return insertMany(...args);
    };
    const { logger, lines } = captureLogger();
    let dropped = 0;
    const log = await openAuditLog({ store, logger, onDrop: () => dropped++ }, { host: "gateway.localhost", maxQueued: 20, batch: { maxDelayMs: 5 } });
    const kept = Array.from({ length: 20 }, (_, i) => log.record({ type: "test", module: "t", note: `e${i}` }));
    await waitFor(() => lines().some((l) => String(l.msg).startsWith("writing audit events failed")), "the first batch to fail");
    const lost = await Promise.allSettled(Array.from({ length: 30 }, () => log.record({ type: "test", module: "t" })));
    expect(lost.every((r) => r.status === "rejected")).toBe(true);
    expect([log.dropped, dropped, log.queued]).toEqual([30, 30, 20]);
    down = false;
    await log.flush().catch(() => undefined);
    await Promise.all(kept);
    const msgs = lines().map((l) => l.msg);
    expect(msgs.filter((m) => String(m).startsWith("writing audit events failed"))).toHaveLength(1);
    expect(msgs.filter((m) => String(m).startsWith("the audit queue is full"))).toHaveLength(1);
    expect(msgs).toContain("audit writes work again; 30 events were dropped while the database was unreachable");
    expect((await log.query({ limit: 100 })).events).toHaveLength(20);
    await log.close();
  });
});
