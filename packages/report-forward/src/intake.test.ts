import { TypedEmitter, silentLogger } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { parseHttpReport } from "./http-report.js";
import { createIntake, dedupeKey, type IntakeLimitOptions } from "./intake.js";
import type { OutboxEntry } from "./outbox.js";
import type { Destination, ReportForwardEvents, ReportSource } from "./report-types.js";

const API: ReportSource = { via: "api", source: "test" };

function intake(options: IntakeLimitOptions & { maxStanzaBytes?: number } = {}) {
  const emitter = new TypedEmitter<ReportForwardEvents>();
  const events: string[] = [];
  emitter.on("received", () => events.push("received"));
  emitter.on("rejected", (r) => events.push(`rejected ${r.reason}`));
  const queued: OutboxEntry[] = [];
  let t = 1_000;
  const submit = createIntake(
    {
      emitter,
      logger: silentLogger(),
      now: () => t,
      enqueue(entry) {
        queued.push(entry);
        return { stored: Promise.resolve(), forwarded: Promise.resolve<Destination[]>([]) };
      },
    },
    { from: "gateway.localhost", servedDomains: new Set(["localhost"]), ...options },
  );
  return { submit, events, queued, advance: (ms: number) => (t += ms) };
}

describe("intake", () => {
  it("accepts a report into the outbox and says it was received", () => {
    const i = intake();
    const r = i.submit(parseHttpReport({ jid: "spammer@bad.example", reason: "spam", reporter: "alice@localhost" }), API);
    expect(r.status).toBe("accepted");
    expect(i.events).toEqual(["received"]);
    expect(i.queued).toMatchObject([{ id: r.id, acceptedAt: 1000, nextAt: 1000, source: API, done: [], attempts: 0 }]);
    expect(i.queued[0]!.report.reported).toBe("spammer@bad.example");
  });

  it("the same report inside the dedupe window is a duplicate; after it, it is taken again", () => {
    const i = intake({ dedupeWindow: 1000 });
    const body = { jid: "spammer@bad.example", reason: "spam", reporter: "alice@localhost", text: "hi" };
    expect(i.submit(parseHttpReport(body), API).status).toBe("accepted");
    expect(i.submit(parseHttpReport(body), API).status).toBe("duplicate");
    i.advance(1000);
    expect(i.submit(parseHttpReport(body), API).status).toBe("accepted");
    expect(i.events).toEqual(["received", "received", "rejected duplicate", "received"]);
  });

  it("a reporter over its limit is refused with the wait, and the refusal is not counted", () => {
    const i = intake({ reporterLimit: 1, limitWindow: 60_000 });
    const report = (jid: string) => parseHttpReport({ jid, reason: "spam", reporter: "alice@localhost" });
    expect(i.submit(report("a@bad.example"), API).status).toBe("accepted");
    i.advance(10_000);
    expect(i.submit(report("b@bad.example"), API)).toMatchObject({ status: "rate-limited", retryAfterMs: 50_000 });
    i.advance(50_000);
    expect(i.submit(report("c@bad.example"), API).status).toBe("accepted");
    expect(i.queued).toHaveLength(2);
  });

  it("a report too large for the wire is refused before anything else", () => {
    const i = intake({ maxStanzaBytes: 600 });
    const r = i.submit(parseHttpReport({ jid: "spammer@bad.example", reason: "spam", text: "x".repeat(1000) }), API);
    expect(r).toMatchObject({ status: "too-large" });
    expect(i.events).toEqual(["rejected too-large"]);
    expect(i.queued).toHaveLength(0);
  });
});

describe("dedupeKey", () => {
  it("without a reporter only the source's message id names a report", () => {
    const report = parseHttpReport({ jid: "spammer@bad.example", reason: "spam" });
    expect(dedupeKey(report, API)).toBeUndefined();
    expect(dedupeKey(report, { via: "message", source: "localhost", messageId: "m1" })).toBe("message localhost message m1");
  });
});
