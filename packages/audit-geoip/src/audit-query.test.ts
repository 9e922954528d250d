import { describe, expect, it } from "vitest";
import { AuditQueryError, decodeCursor, encodeCursor, where, whereClause } from "./audit-query.js";

describe("the audit query builder", () => {
  it("a bare JID selects the account, a full JID one session; JIDs and countries are case-folded", () => {
    expect(where({ user: "Alice@Example.org" })).toEqual({ sql: ["user_jid = ?"], params: ["alice@example.org"] });
    expect(where({ user: "alice@example.org/Phone", country: "gb" })).toEqual({
      sql: ["user_jid = ?", "resource = ?", "country_code = ?"],
      params: ["alice@example.org", "Phone", "GB"],
    });
  });

  it("types become one IN list; IPs are normalised; times are milliseconds, until exclusive", () => {
    const since = new Date("2026-11-01T00:00:00Z");
    const until = new Date("2026-11-02T00:00:00Z");
    expect(where({ type: ["a", "", "b"], ip: "::ffff:81.2.69.142", since, until, module: "m" })).toEqual({
      sql: ["type IN (?, ?)", "module = ?", "ip = ?", "time_ms >= ?", "time_ms < ?"],
      params: ["a", "b", "m", "81.2.69.142", since.getTime(), until.getTime()],
    });
  });

  it("no condition, no WHERE", () => {
    expect(whereClause(where({}).sql)).toBe("");
    expect(whereClause(["a = ?", "b = ?"])).toBe(" WHERE a = ? AND b = ?");
  });

  it("a cursor is the last event's time and id, and nothing else is taken for one", () => {
    const id = "019a0000-0000-7000-8000-000000000000";
    expect(decodeCursor(encodeCursor(1_800_000_000_000, id))).toEqual({ time: 1_800_000_000_000, id });
    expect(() => decodeCursor("not-a-cursor")).toThrow(AuditQueryError);
  });
});
