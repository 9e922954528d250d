import { captureLogger } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import type { AuditEventInput } from "./audit-event.js";
import { createEventBuilder } from "./event-builder.js";

describe("the audit event builder", () => {
  it("normalises and cuts the IP, folds the user, fills the host, and copies the time", () => {
    const build = createEventBuilder({}, { host: "gw.example.org", ips: true, ipv4Prefix: 24 });
    const time = new Date("2026-11-20T10:00:00Z");
    const e = build({ type: "t", module: "m", ip: "::ffff:81.2.69.142", user: "Alice@Example.org", time });
    time.setTime(0);
    expect(e).toMatchObject({ type: "t", module: "m", host: "gw.example.org", ip: "81.2.69.0/24", user: "alice@example.org" });
    expect(e.time.toISOString()).toBe("2026-11-20T10:00:00.000Z");
    expect(build({ type: "t", module: "m", ip: "81.2.69.142" }).ip).toBe("81.2.69.0/24");
  });

  it("with ips off, keeps no address", () => {
    const build = createEventBuilder({}, { host: "h", ips: false });
    expect(build({ type: "t", module: "m", ip: "81.2.69.142" }).ip).toBeUndefined();
  });

  it("a payload that throws is recorded with what is certain, and the warning is logged", () => {
    const { logger, lines } = captureLogger();
    const build = createEventBuilder({ logger }, { host: "h", ips: true });
    const input = { type: "odd", module: "m" } as AuditEventInput;
    Object.defineProperty(input, "user", {
      get() {
        throw new Error("boom");
      },
    });
    const e = build(input);
    expect(e).toMatchObject({ type: "odd", module: "m", host: "h" });
    expect(e.user).toBeUndefined();
    expect(lines().map((l) => l.msg)).toEqual(["audit event had unusable fields; recorded without them"]);
  });
});
