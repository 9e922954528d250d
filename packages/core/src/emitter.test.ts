import { describe, expect, it, vi } from "vitest";
import { TypedEmitter, logListenerErrors } from "./emitter.js";

describe("TypedEmitter", () => {
  it("a throwing listener is reported, and the listeners after it still run; nothing is thrown", async () => {
    const reported: [unknown, string][] = [];
    const e = new TypedEmitter<{ tick: number }>((err, event) => reported.push([err, event]));
    const seen: number[] = [];
    e.on("tick", () => {
      throw new Error("listener bug");
    });
    e.on("tick", (n) => seen.push(n));
    expect(() => e.emit("tick", 1)).not.toThrow();
    expect(seen).toEqual([1]);
    expect(reported.map(([err, event]) => [(err as Error).message, event])).toEqual([["listener bug", "tick"]]);
  });

  it("without a handler, a throwing listener is written to stderr and never becomes an uncaught exception", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const uncaught = vi.fn();
    process.on("uncaughtException", uncaught);
    try {
      const e = new TypedEmitter<{ tick: number }>();
      e.on("tick", () => {
        throw new Error("listener bug");
      });
      e.emit("tick", 1);
      await new Promise((r) => setTimeout(r, 10));
      expect(uncaught).not.toHaveBeenCalled();
      expect(spy).toHaveBeenCalledWith("xmppkit: an event listener failed (tick):", expect.any(Error));
    } finally {
      process.off("uncaughtException", uncaught);
      spy.mockRestore();
    }
  });

  it("logListenerErrors logs through a logger", () => {
    const logged: unknown[] = [];
    logListenerErrors({ error: (obj, msg) => logged.push([obj, msg]) }, "a listener failed")(new Error("x"), "evt");
    expect(logged).toEqual([[{ err: expect.any(Error), event: "evt" }, "a listener failed"]]);
  });
});
