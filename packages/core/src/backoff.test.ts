import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff.js";

describe("backoffDelay", () => {
  it("doubles from the initial delay up to the cap when jitter is off", () => {
    const schedule = Array.from({ length: 9 }, (_, i) => backoffDelay(i, { initial: 1000, max: 60_000, jitter: 0 }));
    expect(schedule).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it("keeps jittered delays within [d·(1−jitter), d]", () => {
    expect(backoffDelay(3, { jitter: 0.5 }, () => 0)).toBe(8000);
    expect(backoffDelay(3, { jitter: 0.5 }, () => 0.999999)).toBe(4000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(2, { jitter: 0.5 });
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });

  it("never exceeds the cap, even for huge attempt numbers", () => {
    expect(backoffDelay(10_000, { max: 30_000, jitter: 0 })).toBe(30_000);
  });

  it("treats a negative attempt as the first", () => {
    expect(backoffDelay(-1, { jitter: 0 })).toBe(1000);
  });
});
