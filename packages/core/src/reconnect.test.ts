import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LinkStoppedError } from "./link-failure.js";
import { Reconnect } from "./reconnect.js";

function machine() {
  const scheduled: { attempt: number; delayMs: number; reason: string }[] = [];
  const attempt = vi.fn();
  const reconnect = new Reconnect({ attempt, scheduled: (e) => scheduled.push(e), backoff: { initial: 100, jitter: 0 } });
  return { reconnect, attempt, scheduled };
}

describe("Reconnect", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("start() attempts at once and resolves when settled", async () => {
    const { reconnect, attempt } = machine();
    const started = reconnect.start();
    expect(attempt).toHaveBeenCalledTimes(1);
    reconnect.succeeded();
    reconnect.settle();
    await expect(started).resolves.toBeUndefined();
  });

  it("schedules one attempt at a time, with a growing backoff that starts over once the link is up", () => {
    const { reconnect, attempt, scheduled } = machine();
    reconnect.schedule("the connection closed");
    reconnect.schedule("a second reason while one is scheduled");
    expect(scheduled).toEqual([{ attempt: 1, delayMs: 100, reason: "the connection closed" }]);
    vi.advanceTimersByTime(99);
    expect(attempt).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(attempt).toHaveBeenCalledTimes(1);
    reconnect.schedule("again");
    expect(scheduled[1]).toEqual({ attempt: 2, delayMs: 200, reason: "again" });
    vi.advanceTimersByTime(200);
    reconnect.succeeded();
    reconnect.schedule("lost");
    expect(scheduled[2]).toEqual({ attempt: 1, delayMs: 100, reason: "lost" });
  });

  it("stop() cancels the scheduled attempt, rejects a waiting start() and schedules nothing more", async () => {
    const { reconnect, attempt, scheduled } = machine();
    const started = reconnect.start();
    reconnect.schedule("the connection closed");
    reconnect.stop();
    await expect(started).rejects.toBeInstanceOf(LinkStoppedError);
    expect(reconnect.stopping).toBe(true);
    vi.advanceTimersByTime(1000);
    reconnect.schedule("lost again");
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(scheduled).toHaveLength(1);
  });

  it("a new start() rejects the one still waiting", async () => {
    const { reconnect } = machine();
    const first = reconnect.start();
    const second = reconnect.start();
    await expect(first).rejects.toBeInstanceOf(LinkStoppedError);
    reconnect.settle();
    await expect(second).resolves.toBeUndefined();
  });

  it("fail() ends the attempts and keeps the first error, until the next start()", async () => {
    const { reconnect, attempt, scheduled } = machine();
    const first = new Error("not-authorized");
    reconnect.schedule("the connection closed");
    reconnect.fail(first);
    reconnect.fail(new Error("later"));
    expect(reconnect.fatal).toBe(first);
    expect(reconnect.retrying).toBe(false);
    vi.advanceTimersByTime(1000);
    reconnect.schedule("lost");
    expect(attempt).not.toHaveBeenCalled();
    expect(scheduled).toHaveLength(1);
    void reconnect.start();
    expect(reconnect.fatal).toBeNull();
    expect(attempt).toHaveBeenCalledTimes(1);
  });
});
