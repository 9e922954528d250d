import { validate, version } from "uuid";
import { describe, expect, it } from "vitest";
import { eventId } from "./event-id.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The 48-bit millisecond at the front of a UUIDv7. */
const ms = (id: string) => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

describe("event ids", () => {
  it("are UUIDv7s (RFC 9562) stamped with the millisecond given", () => {
    const id = eventId(1_800_000_000_000);
    expect(id).toMatch(UUID_V7);
    expect(validate(id) && version(id)).toBe(7);
    expect(ms(id)).toBe(1_800_000_000_000);
  });

  it("sort in the order they were made, also many within one millisecond, and never repeat", () => {
    const at = 1_800_000_100_000;
    const ids = Array.from({ length: 5000 }, () => eventId(at));
    expect(ids.every((id) => UUID_V7.test(id) && ms(id) === at)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(5000);
    expect(new Set(ids.map((id) => id.slice(24))).size).toBe(5000); // the random tail differs too
  });

  it("stay in order when the clock steps back, keeping the later millisecond", () => {
    const a = eventId(1_800_000_200_000);
    const b = eventId(1_800_000_199_000);
    expect(b > a).toBe(true);
    expect(ms(b)).toBe(1_800_000_200_000);
    const c = eventId(1_800_000_200_001);
    expect(c > b && ms(c) === 1_800_000_200_001).toBe(true);
  });
});
