import { mockComponent } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import type { XmppEntity } from "./entity.js";
import { FatalConnectionError, setupLifecycle } from "./lifecycle.js";

function streamError(condition: string) {
  return Object.assign(new Error(condition), { condition });
}

describe("lifecycle", () => {
  it("a lost link schedules a reconnect with backoff and reports link-lost", async () => {
    const mock = await mockComponent<XmppEntity>();
    const lc = setupLifecycle({ entity: mock.entity }, { backoff: { initial: 60_000, jitter: 0 } });
    mock.entity.emit("online", mock.entity.jid);
    expect(lc.online).toBe(true);
    const reconnecting = lc.next("reconnecting", 1000);
    const lost = lc.next("link-lost", 1000);
    mock.dropLink();
    expect(await lost).toEqual({ reason: "the connection closed" });
    expect(await reconnecting).toEqual({ attempt: 1, delayMs: 60_000, reason: "the connection closed" });
    expect(lc.online).toBe(false);
    await lc.stop();
  });

  it("not-authorized is fatal: no reconnect, one clear error", async () => {
    const mock = await mockComponent<XmppEntity>();
    const lc = setupLifecycle({ entity: mock.entity }, { backoff: { initial: 10 } });
    let reconnects = 0;
    lc.on("reconnecting", () => reconnects++);
    const fatal = lc.next("fatal", 1000);
    mock.entity.emit("error", streamError("not-authorized"));
    mock.dropLink();
    const { error } = await fatal;
    expect(error).toBeInstanceOf(FatalConnectionError);
    expect(error.message).toMatch(/^not-authorized: the server refused the credentials/);
    await new Promise((r) => setTimeout(r, 50));
    expect(reconnects).toBe(0);
  });

  it("a server that restarts says invalid-namespace while it starts: fatal at the first connection, retried once the link was up", async () => {
    const fresh = await mockComponent<XmppEntity>();
    const never = setupLifecycle({ entity: fresh.entity }, { backoff: { initial: 10 } });
    const fatal = never.next("fatal", 1000);
    fresh.entity.emit("error", streamError("invalid-namespace"));
    fresh.dropLink();
    expect((await fatal).error.message).toMatch(/^invalid-namespace: /);

    const mock = await mockComponent<XmppEntity>();
    const lc = setupLifecycle({ entity: mock.entity }, { backoff: { initial: 60_000, jitter: 0 } });
    let fatals = 0;
    lc.on("fatal", () => fatals++);
    mock.entity.emit("online", mock.entity.jid);
    const reconnecting = lc.next("reconnecting", 1000);
    mock.entity.emit("error", streamError("invalid-namespace")); // the server, restarting, as it is seen on the link
    mock.dropLink();
    expect((await reconnecting).reason).toMatch(/stream error invalid-namespace/);
    expect(fatals).toBe(0);
    await lc.stop();
  });

  it("a transient error (conflict, socket errors) is retried", async () => {
    const mock = await mockComponent<XmppEntity>();
    const lc = setupLifecycle({ entity: mock.entity }, { backoff: { initial: 60_000 } });
    const reconnecting = lc.next("reconnecting", 1000);
    mock.entity.emit("error", streamError("conflict"));
    mock.dropLink();
    const { attempt, reason } = await reconnecting;
    expect(attempt).toBe(1);
    expect(reason).toMatch(/^another instance holds component\.localhost \(stream error conflict/);
    await lc.stop();
  });

  it("reports link-restored with the downtime after a reconnect", async () => {
    const mock = await mockComponent<XmppEntity>();
    const lc = setupLifecycle({ entity: mock.entity }, { backoff: { initial: 60_000 } });
    mock.entity.emit("online", mock.entity.jid);
    mock.dropLink();
    const restored = lc.next("link-restored", 1000);
    const online = lc.next("online", 1000);
    mock.entity.emit("online", mock.entity.jid);
    expect((await online).reconnected).toBe(true);
    expect((await restored).downtimeMs).toBeGreaterThanOrEqual(0);
    await lc.stop();
  });
});
