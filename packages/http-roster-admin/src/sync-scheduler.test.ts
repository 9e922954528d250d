import { TypedEmitter, createLimiter } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import type { RosterAdminEvents, SyncResult, SyncTrigger } from "./sync-result.js";
import { createSyncScheduler } from "./sync-scheduler.js";

/** A run whose syncs finish when the test says so. */
function controlledRun() {
  const calls: { user: string; trigger: SyncTrigger; finish: () => void; fail: (e: Error) => void }[] = [];
  const run = (user: string, trigger: SyncTrigger) =>
    new Promise<SyncResult>((resolve, reject) => {
      const result = { user, trigger, added: calls.length, changed: 0, removed: 0, unchanged: 0, requests: 0, skipped: [], durationMs: 0 };
      calls.push({ user, trigger, finish: () => resolve(result), fail: reject });
    });
  return { run, calls };
}

const turns = () => new Promise((r) => setImmediate(r));

function scheduler(concurrency = 8) {
  const { run, calls } = controlledRun();
  const emitted: RosterAdminEvents["sync-failed"][] = [];
  const emitter = new TypedEmitter<RosterAdminEvents>();
  emitter.on("sync-failed", (f) => void emitted.push(f));
  const s = createSyncScheduler({ run, limit: createLimiter(concurrency), emitter });
  return { s, calls, emitted };
}

describe("createSyncScheduler", () => {
  it("runs one sync of a user at a time; requests during it share one follow-up, which runs after it", async () => {
    const { s, calls } = scheduler();
    const first = s.sync("alice");
    await turns();
    const second = s.sync("Alice", "http"); // normalized: the same user
    const third = s.sync("alice");
    expect(second).toBe(third);
    expect(s.pending).toBe(2);
    expect(s.busy("alice")).toBe(true);
    expect(calls).toHaveLength(1);

    calls[0]!.finish();
    expect(await first).toMatchObject({ user: "alice", added: 0 });
    await turns();
    expect(calls.map((c) => `${c.user} ${c.trigger}`)).toEqual(["alice api", "alice http"]);
    calls[1]!.finish();
    expect(await second).toMatchObject({ added: 1, trigger: "http" });
    await turns();
    expect(s.pending).toBe(0);
    expect(s.busy("alice")).toBe(false);
  });

  it("a failed sync does not block the follow-up; users are independent up to the limit", async () => {
    const { s, calls } = scheduler(2);
    const a = s.sync("alice");
    s.sync("bob");
    s.sync("carol");
    await turns();
    expect(calls.map((c) => c.user)).toEqual(["alice", "bob"]); // carol waits for a free slot
    const again = s.sync("alice");
    calls[0]!.fail(new Error("boom"));
    await expect(a).rejects.toThrow("boom");
    await turns();
    expect(calls.map((c) => c.user)).toEqual(["alice", "bob", "carol"]);
    calls[1]!.finish();
    await turns();
    expect(calls.map((c) => c.user)).toEqual(["alice", "bob", "carol", "alice"]);
    calls[2]!.finish();
    calls[3]!.finish();
    await expect(again).resolves.toMatchObject({ user: "alice" });
  });

  it("refuses an invalid username with an event, before any sync", async () => {
    const { s, calls, emitted } = scheduler();
    await expect(s.sync("no/slash")).rejects.toMatchObject({ reason: "invalid-username" });
    expect(emitted).toEqual([expect.objectContaining({ user: "no/slash", reason: "invalid-username", applied: 0 })]);
    expect(calls).toEqual([]);
  });

  it("stop() waits for the syncs started, queued ones included, and refuses new ones", async () => {
    const { s, calls } = scheduler();
    const running = s.sync("alice");
    await turns();
    const queued = s.sync("alice");
    let stopped = false;
    const stopping = s.stop().then(() => {
      stopped = true;
    });
    expect(s.stopped).toBe(true);
    await expect(s.sync("bob")).rejects.toMatchObject({ reason: "stopped" });
    calls[0]!.finish();
    await running;
    await turns();
    expect(stopped).toBe(false); // the follow-up was started before stop()
    calls[1]!.finish();
    await queued;
    await stopping;
    expect(stopped).toBe(true);
  });
});
