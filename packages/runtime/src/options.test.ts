import { describe, expect, it } from "vitest";
import { ConfigError } from "@xmppkit/core";
import { closestName, duration, editDistance, parseOptions, z } from "./options.js";

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

/** The ConfigError parseOptions throws. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (ConfigError.isInstance(e)) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("did you mean", () => {
  const roster = z.strictObject({
    http_roster_url: z.string(),
    http_roster_timeout: duration().prefault(10),
    http_roster_retries: z.number().default(2),
    rooms: z.array(z.strictObject({ room: z.string(), nick: z.string(), password: z.string().optional() })).default([]),
  });

  it("an unknown option names the known one it is a typo of, nested ones and those behind a preprocess too", () => {
    const err = configError(() =>
      parseOptions(
        z.preprocess((v) => v, roster),
        { http_roster_url: "u", http_roster_timout: 3, rooms: [{ room: "r", nick: "n", pasword: "x" }], frobnicate: 1 },
        "http-roster-admin",
      ),
    );
    expect(err.issues).toEqual([
      { path: "http-roster-admin.rooms[0].pasword", message: 'unknown option (did you mean "password"?)' },
      { path: "http-roster-admin.http_roster_timout", message: 'unknown option (did you mean "http_roster_timeout"?)' },
      { path: "http-roster-admin.frobnicate", message: "unknown option" },
    ]);
  });

  it("the distance counts a swap of two neighbours as one edit; case, - and _ do not count", () => {
    expect(editDistance("timeout", "tiemout")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(closestName("ping-muk", ["track-muc-joins", "ping-muc", "report-forward"])).toBe("ping-muc");
    expect(closestName("HTTP-ROSTER-URL", ["http_roster_url"])).toBe("http_roster_url");
    expect(closestName("storag", ["component", "storage", "http"])).toBe("storage");
    expect(closestName("xyz", ["log", "ha", "http"])).toBeUndefined();
  });
});

describe("the config file's conveniences (Prosody's)", () => {
  const affiliations = z.strictObject({
    report_affiliations_trusted_servers: z.array(z.string().regex(/^[^@/]+$/, "a server domain (no @, no /)")).default([]),
    report_affiliations_stamp: z.array(z.enum(["presence-sub", "message"])).default(["presence-sub"]),
    limit: z.number().int().min(1).default(10),
    rooms: z.array(z.strictObject({ room: z.string() })).default([]),
  });

  it("one string where a list of strings is wanted is a list of it (get_option_array, get_option_set)", () => {
    expect(parseOptions(affiliations, { report_affiliations_trusted_servers: "rtbl.example.org", report_affiliations_stamp: "message" }, "m")).toMatchObject({
      report_affiliations_trusted_servers: ["rtbl.example.org"],
      report_affiliations_stamp: ["message"],
    });
    // the item is still validated
    expect(configError(() => parseOptions(affiliations, { report_affiliations_trusted_servers: "a@b" }, "m")).issues).toEqual([
      { path: "m.report_affiliations_trusted_servers[0]", message: "a server domain (no @, no /)" },
    ]);
  });

  it("a string is not made a list of mappings: the error says a list was expected", () => {
    expect(configError(() => parseOptions(affiliations, { rooms: "a@b" }, "m")).issues).toEqual([
      { path: "m.rooms", message: 'expected array, got a string ("a@b")' },
    ]);
  });

  it("a number written as a string (${X:-500} substituted) is that number, and still checked", () => {
    expect(parseOptions(affiliations, { limit: "500" }, "m").limit).toBe(500);
    expect(parseOptions(schema, { http_roster_url: "u", retries: " 3 " }, "m").retries).toBe(3);
    expect(configError(() => parseOptions(affiliations, { limit: "0" }, "m")).issues[0]!.path).toBe("m.limit");
    expect(configError(() => parseOptions(affiliations, { limit: "lots" }, "m")).issues).toEqual([
      { path: "m.limit", message: 'expected number, got a string ("lots")' },
    ]);
    expect(configError(() => parseOptions(affiliations, { limit: "0x10" }, "m")).issues[0]!.message).toBe('expected number, got a string ("0x10")');
  });

  it("leaves the given value as it was", () => {
    const raw = { report_affiliations_trusted_servers: "rtbl.example.org", limit: "5" };
    parseOptions(affiliations, raw, "m");
    expect(raw).toEqual({ report_affiliations_trusted_servers: "rtbl.example.org", limit: "5" });
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
