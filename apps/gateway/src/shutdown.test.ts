import { captureLogger } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import { createShutdown } from "./shutdown.js";

/** The parts shutdown touches, each saying when it was asked to stop. */
function parts(fail: string[] = []) {
  const order: string[] = [];
  const step = (name: string) => async () => {
    order.push(name);
    if (fail.includes(name)) throw new Error(`${name} failed`);
  };
  const { logger, lines } = captureLogger();
  const s = {
    kit: { lifecycle: { endReconnects: () => void order.push("endReconnects"), stop: step("link") }, ping: { stop: () => void order.push("ping") } },
    log: logger,
    http: { close: step("http") },
    stops: [step("module a"), step("module b")],
    store: { close: step("store") },
    storeLock: { release: () => void order.push("lock") },
    lease: { release: step("lease") },
  };
  return { order, lines, s: s as unknown as Parameters<typeof createShutdown>[0] };
}

describe("the gateway's shutdown", () => {
  it("stops in order: reconnects, HTTP, modules (last set up first), storage, the link, then the lease", async () => {
    const { order, s } = parts();
    const shutdown = createShutdown(s);
    expect(shutdown.stopped).toBe(false);
    const first = shutdown.stop();
    expect(shutdown.stopped).toBe(true);
    await Promise.all([first, shutdown.stop()]);
    expect(order).toEqual(["endReconnects", "http", "module b", "module a", "store", "lock", "ping", "link", "lease"]);
  });

  it("a step that fails is logged and the others still run", async () => {
    const { order, lines, s } = parts(["http", "module a"]);
    await createShutdown(s).stop();
    expect(order).toHaveLength(9);
    expect(
      lines()
        .filter((l) => l.level >= 50)
        .map((l) => l.msg),
    ).toEqual(["closing HTTP failed", "module stop failed"]);
  });
});
