import { describe, expect, it } from "vitest";
import { ConfigError } from "@xmppkit/core";
import { duration, parseOptions, z } from "./options.js";

const schema = z.strictObject({
  http_roster_url: z.string(),
  retries: z.number().int().min(0).default(2),
  headers: z.record(z.string(), z.string()).default({}),
  rooms: z.array(z.strictObject({ room: z.string(), nick: z.string() })).default([]),
});

describe("parseOptions", () => {
  it("applies defaults", () => {
    expect(parseOptions(schema, { http_roster_url: "http://x/%s" }, "http-roster-admin")).toEqual({
      http_roster_url: "http://x/%s",
      retries: 2,
      headers: {},
      rooms: [],
    });
  });

  it("names the option path of a wrong type", () => {
    const err = (() => {
      try {
        parseOptions(schema, { http_roster_url: 42 }, "http-roster-admin");
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.issues).toEqual([{ path: "http-roster-admin.http_roster_url", message: "expected string, got number (42)" }]);
  });

  it("names a missing option", () => {
    expect(() => parseOptions(schema, {}, "m")).toThrow("m.http_roster_url: is required (expected string)");
  });

  it("reports each unknown key with its path, array indexes included", () => {
    const err = (() => {
      try {
        parseOptions(schema, { http_roster_url: "u", tiemout: 3, rooms: [{ room: "r", nick: "n", pasword: "x" }] }, "m");
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(err.issues.map((i) => i.path).sort()).toEqual(["m.rooms[0].pasword", "m.tiemout"]);
    expect(err.issues.every((i) => i.message === "unknown option")).toBe(true);
  });
});

describe("duration", () => {
  const d = duration();
  it.each([
    [60, 60_000],
    ["90s", 90_000],
    ["15m", 900_000],
    ["28d", 28 * 86_400_000],
    ["1w", 604_800_000],
    ["250ms", 250],
    ["2", 2000],
  ])("%s → %d ms", (input, ms) => expect(d.parse(input)).toBe(ms));

  it("rejects garbage with a readable message", () => {
    const r = d.safeParse("soon");
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/not a duration: "soon"/);
  });
});
