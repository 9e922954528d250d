import { fakeTime } from "@xmppkit/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { OutboxEntry } from "./outbox.js";
import { OutboxScheduler } from "./outbox-scheduler.js";

const entry = (id: string, nextAt: number): OutboxEntry => ({
  id,
  acceptedAt: 0,
  report: {} as OutboxEntry["report"],
  source: { via: "api", source: "test" },
  done: [],
  attempts: 0,
  nextAt,
});

function setup(online = true, concurrency = 8) {
  const entries = new Map<string, OutboxEntry>();
  const inFlight = new Set<string>();
  const lifecycle = { online };
  const ran: string[] = [];
  const scheduler = new OutboxScheduler(
    {
      lifecycle,
      entries,
      inFlight,
      now: Date.now,
      async round(e) {
        ran.push(e.id);
        entries.delete(e.id);
      },
    },
    concurrency,
  );
  return { entries, lifecycle, ran, scheduler };
}

describe("OutboxScheduler", () => {
  beforeEach(() => void vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] }));
  afterEach(() => void vi.useRealTimers());

  it("kick runs what is due, earliest first, and leaves what is not", async () => {
    const time = fakeTime(vi);
    const s = setup();
    s.entries.set("b", entry("b", Date.now() - 10));
    s.entries.set("a", entry("a", Date.now() - 20));
    s.entries.set("later", entry("later", Date.now() + 60_000));
    s.scheduler.kick();
    await time.flush();
    expect(s.ran).toEqual(["a", "b"]);
    expect([...s.entries.keys()]).toEqual(["later"]);
    await s.scheduler.stop();
  });

  it("wakes up when the earliest entry is due", async () => {
    const time = fakeTime(vi);
    const s = setup();
    s.entries.set("x", entry("x", Date.now() + 5000));
    s.scheduler.arm();
    await time.sleep(4000);
    expect(s.ran).toEqual([]);
    await time.sleep(1000);
    expect(s.ran).toEqual(["x"]);
    await s.scheduler.stop();
  });

  it("runs nothing while the link is down, nor after stop", async () => {
    const time = fakeTime(vi);
    const s = setup(false);
    s.entries.set("x", entry("x", Date.now()));
    s.scheduler.kick();
    await time.flush();
    expect(s.ran).toEqual([]);
    s.lifecycle.online = true;
    await s.scheduler.stop();
    s.scheduler.kick();
    await time.sleep(10);
    expect(s.ran).toEqual([]);
  });

  it("runs at most `concurrency` rounds at once, and the rest in the next batch", async () => {
    const time = fakeTime(vi);
    const entries = new Map<string, OutboxEntry>();
    for (const id of ["a", "b", "c"]) entries.set(id, entry(id, Date.now()));
    let running = 0;
    let most = 0;
    const scheduler = new OutboxScheduler(
      {
        lifecycle: { online: true },
        entries,
        inFlight: new Set(),
        now: Date.now,
        async round(e) {
          most = Math.max(most, ++running);
          await new Promise((r) => setTimeout(r, 100));
          running--;
          entries.delete(e.id);
        },
      },
      2,
    );
    scheduler.kick();
    await time.sleep(100);
    expect([...entries.keys()]).toEqual(["c"]);
    await time.sleep(100);
    expect(entries.size).toBe(0);
    expect(most).toBe(2);
    await scheduler.stop();
  });
});
