import { describe, expect, it } from "vitest";
import { DedupeWindow, SlidingWindowLimit } from "./report-limits.js";

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("DedupeWindow", () => {
  it("sees a key again only inside the window", () => {
    const c = clock();
    const d = new DedupeWindow(1000, c.now);
    expect(d.seen("a")).toBe(false);
    expect(d.seen("a")).toBe(true);
    expect(d.seen("b")).toBe(false);
    c.advance(999);
    expect(d.seen("a")).toBe(true);
    c.advance(1);
    expect(d.seen("a")).toBe(false); // the window ended: forwarded again, and remembered anew
    expect(d.seen("a")).toBe(true);
  });

  it("a window of 0 never dedupes", () => {
    const d = new DedupeWindow(0);
    expect(d.seen("a")).toBe(false);
    expect(d.seen("a")).toBe(false);
  });

  it("sweeps expired keys, so memory stays bounded", () => {
    const c = clock();
    const d = new DedupeWindow(10, c.now);
    for (let i = 0; i < 1000; i++) d.seen(`k${i}`);
    c.advance(11);
    for (let i = 0; i < 300; i++) d.seen(`n${i}`);
    expect(d.size).toBeLessThan(400);
  });
});

describe("SlidingWindowLimit", () => {
  it("allows `limit` per window, sliding", () => {
    const c = clock();
    const l = new SlidingWindowLimit(2, 1000, c.now);
    expect(l.take("x")).toBe(true);
    c.advance(500);
    expect(l.take("x")).toBe(true);
    expect(l.take("x")).toBe(false);
    expect(l.take("y")).toBe(true); // keys are apart
    expect(l.retryAfter("x")).toBe(500);
    c.advance(500); // the first hit left the window
    expect(l.retryAfter("x")).toBe(0);
    expect(l.take("x")).toBe(true);
    expect(l.take("x")).toBe(false);
  });

  it("a refused take is not counted", () => {
    const c = clock();
    const l = new SlidingWindowLimit(1, 1000, c.now);
    l.take("x");
    for (let i = 0; i < 5; i++) expect(l.take("x")).toBe(false);
    c.advance(1000);
    expect(l.take("x")).toBe(true);
  });

  it("limit 0 means unlimited", () => {
    const l = new SlidingWindowLimit(0, 1000);
    for (let i = 0; i < 100; i++) expect(l.take("x")).toBe(true);
  });
});
