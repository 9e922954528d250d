import { describe, expect, it } from "vitest";
import type { AuditEvent } from "./audit-event.js";
import { eventId } from "./audit-log.js";
import { eventJson, formatAuditTable, localDateTime, whoOf } from "./audit-table.js";

const ev = (over: Partial<AuditEvent>): AuditEvent => ({
  id: "1",
  time: new Date(2026, 10, 21, 9, 5, 3),
  type: "session-available",
  host: "localhost",
  module: "core",
  ...over,
});

describe("event ids", () => {
  it("are UUIDv7s that sort in recording order, also within one millisecond", () => {
    const ids = Array.from({ length: 5000 }, () => eventId(1_800_000_000_000));
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(5000);
  });
});

describe("the CLI table (prosodyctl mod_audit's layout)", () => {
  it("dash line, header, dash line, rows, dash line, count", () => {
    const out = formatAuditTable([
      ev({ user: "alice@localhost", resource: "phone", actor: "alice@localhost/phone" }),
      ev({
        type: "http-request",
        actor: "81.2.69.142",
        ip: "81.2.69.142",
        location: { countryCode: "GB", countryName: "United Kingdom" },
        note: "POST /reports → 202",
      }),
    ]).split("\n");
    expect(out[0]).toMatch(/^-{40,}$/);
    expect(out[1]).toMatch(/^Date\s+Source\s+Event\s+User\s+IP\s+Location\s+Note$/);
    expect(out[2]).toBe(out[0]);
    expect(out[3]).toMatch(/^2026-11-21 09:05:03 core\s+session-available alice@localhost\/phone$/);
    expect(out[4]).toMatch(/^2026-11-21 09:05:03 core\s+http-request\s+81\.2\.69\.142 GB\s+POST \/reports → 202$/);
    expect(out[5]).toBe(out[0]);
    expect(out[6]).toBe("2 records displayed");
  });

  it("no events: still the frame and '0 records displayed'; long cells are cut", () => {
    expect(formatAuditTable([]).trim().split("\n").at(-1)).toBe("0 records displayed");
    const line = formatAuditTable([ev({ user: `${"x".repeat(80)}@localhost`, note: "n".repeat(300) })], { width: 120 }).split("\n")[3]!;
    expect(line.length).toBeLessThanOrEqual(120);
    expect(line).toContain("…");
  });

  it("who: the account (with resource), else an actor that is not just the IP", () => {
    expect(whoOf(ev({ user: "a@l" }))).toBe("a@l");
    expect(whoOf(ev({ actor: "1.2.3.4", ip: "1.2.3.4" }))).toBe("");
    expect(whoOf(ev({ actor: "mallory@localhost" }))).toBe("mallory@localhost");
    expect(localDateTime(new Date(2026, 0, 2, 3, 4, 5))).toBe("2026-01-02 03:04:05");
    expect(eventJson(ev({})).time).toBe(new Date(2026, 10, 21, 9, 5, 3).toISOString());
  });
});
