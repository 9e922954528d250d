import { describe, expect, it } from "vitest";
import { parseAuditQuery, parseWhen } from "./audit-filter.js";
import { AuditQueryError } from "./audit-log.js";

const now = new Date("2026-11-21T12:00:00Z");

describe("audit filters (CLI flags, GET /audit, the page)", () => {
  it("parses every filter", () => {
    expect(
      parseAuditQuery(
        {
          user: "alice@localhost/phone",
          type: "session-available, http-request",
          module: "core",
          country: "gb",
          ip: "81.2.69.142",
          since: "7d",
          until: "2026-11-21",
          limit: "50",
          cursor: "abc",
        },
        now,
      ),
    ).toEqual({
      user: "alice@localhost/phone",
      type: ["session-available", "http-request"],
      module: "core",
      country: "GB",
      ip: "81.2.69.142",
      since: new Date("2026-11-14T12:00:00Z"),
      until: new Date("2026-11-21T00:00:00Z"),
      limit: 50,
      cursor: "abc",
    });
  });

  it("empty values are no filter", () => {
    expect(parseAuditQuery({ user: "", type: undefined }, now)).toEqual({});
  });

  it.each([
    [{ user: "alice" }, "user", /expected a JID/],
    [{ type: "Session Available" }, "type", /not an event type/],
    [{ country: "GBR" }, "country", /two-letter/],
    [{ since: "last week" }, "since", /period back from now/],
    [{ until: "2026-13-45" }, "until", /date like/],
    [{ limit: "0" }, "limit", /1 to 1000/],
    [{ limit: "12abc" }, "limit", /1 to 1000/],
    [{ usr: "alice@localhost" }, "usr", /unknown filter/],
    [{ type: ["a", "b"] }, "type", /give it once/],
    [{ since: "1d", until: "2d" }, "since", /before until/],
  ])("%j is refused, naming %s", (input, field, message) => {
    let err: unknown;
    try {
      parseAuditQuery(input as Record<string, unknown>, now);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AuditQueryError);
    expect((err as AuditQueryError).field).toBe(field);
    expect((err as Error).message).toMatch(message);
  });

  it("periods and dates", () => {
    expect(parseWhen("since", "12h", now)).toEqual(new Date("2026-11-21T00:00:00Z"));
    expect(parseWhen("since", "2026-11-01T10:00:00+01:00", now)).toEqual(new Date("2026-11-01T09:00:00Z"));
    expect(parseWhen("since", "2026-11-01 10:00:00Z", now)).toEqual(new Date("2026-11-01T10:00:00Z"));
    expect(() => parseWhen("since", "30", now)).toThrow(AuditQueryError); // a bare number is ambiguous
  });
});
