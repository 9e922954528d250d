import { describe, expect, it } from "vitest";
import { parseHttpReport } from "./http-report.js";
import { burstKeys, inWords, limitChecks, limitedAudiences } from "./report-limits.js";

const report = (extra: Record<string, unknown> = {}) => parseHttpReport({ jid: "spammer@bad.example/x", reason: "spam", ...extra });
const API = { via: "api" as const, source: "test" };

describe("limitedAudiences", () => {
  it("only the audiences the report would reach: opted in, configured, not a local JID", () => {
    const both = report({ third_party: true, report_origin: true });
    expect(limitedAudiences(both, { thirdParties: ["list@bl.example"] })).toEqual(["third-party", "origin"]);
    expect(limitedAudiences(both, { thirdParties: [] })).toEqual(["origin"]);
    expect(limitedAudiences(both, { thirdParties: ["l@x"], toOrigin: false })).toEqual(["third-party"]);
    expect(limitedAudiences(report(), { thirdParties: ["l@x"] })).toEqual([]);
    expect(limitedAudiences(report(), { thirdParties: ["l@x"], requireOptIn: false })).toEqual(["third-party", "origin"]);
    expect(limitedAudiences(parseHttpReport({ jid: "eve@sub.localhost", reason: "spam", report_origin: true }), { server: "localhost" })).toEqual([]);
  });
});

describe("limitChecks", () => {
  it("keys by reporter and reported JID, per audience; 0 is no limit", () => {
    const checks = limitChecks("third-party", report({ reporter: "dave@localhost/phone" }), API, { reporterLimit: 10, reportedLimit: 0 });
    expect(checks).toEqual([
      {
        key: "third-party reporter dave@localhost",
        limit: 10,
        windowMs: 3_600_000,
        reason: "10 reports from dave@localhost in 1 h (report_forward_reporter_limit)",
      },
    ]);
  });

  it("a session stands for an unnamed reporter; without one, reports about a JID share the unattributed allowance", () => {
    expect(limitChecks("origin", report(), { ...API, session: "c2s9" }, {}).map((c) => c.key)).toEqual([
      "origin session test c2s9",
      "origin reported spammer@bad.example",
    ]);
    expect(limitChecks("origin", report(), API, { limitWindow: 600_000 })).toEqual([
      {
        key: "origin unattributed spammer@bad.example",
        limit: 3,
        windowMs: 600_000,
        reason: "3 reports about spammer@bad.example from reporters the server did not name in 10 min (report_forward_unattributed_limit)",
      },
      {
        key: "origin reported spammer@bad.example",
        limit: 30,
        windowMs: 600_000,
        reason: "30 reports about spammer@bad.example in 10 min (report_forward_reported_limit)",
      },
    ]);
  });
});

describe("burstKeys and inWords", () => {
  it("a burst is the sender's (or the source's, nobody being named) and the reported JID's", () => {
    expect(burstKeys(report({ reporter: "dave@localhost" }), API)).toEqual(["reporter dave@localhost", "reported spammer@bad.example"]);
    expect(burstKeys(report(), { via: "message", source: "localhost" })).toEqual(["unnamed message localhost", "reported spammer@bad.example"]);
    expect([inWords(3_600_000), inWords(600_000), inWords(45_000)]).toEqual(["1 h", "10 min", "45 s"]);
  });
});
