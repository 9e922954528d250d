import { TypedEmitter, silentLogger } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { parseHttpReport } from "./http-report.js";
import { createIntake, dedupeKey, type IntakeLimitOptions } from "./intake.js";
import type { OutboxEntry } from "./outbox.js";
import type { AudienceOptions } from "./report-limits.js";
import type { Destination, ReportForwardEvents, ReportSource } from "./report-types.js";
import { memoryReportWindows } from "./report-windows.js";

const API: ReportSource = { via: "api", source: "test" };
const LIST = { thirdParties: ["list@blocklist.example"], server: "localhost" };

function intake(options: IntakeLimitOptions & AudienceOptions & { maxStanzaBytes?: number } = {}, stored: () => Promise<void> = () => Promise.resolve()) {
  const emitter = new TypedEmitter<ReportForwardEvents>();
  const events: string[] = [];
  emitter.on("received", () => events.push("received"));
  emitter.on("rejected", (r) => events.push(`rejected ${r.reason}`));
  const queued: OutboxEntry[] = [];
  let t = 1_000;
  const now = () => t;
  const submit = createIntake(
    {
      emitter,
      logger: silentLogger(),
      now,
      windows: Promise.resolve(memoryReportWindows(now)),
      enqueue(entry) {
        queued.push(entry);
        return { stored: stored(), forwarded: Promise.resolve<Destination[]>([]) };
      },
    },
    { from: "gateway.localhost", servedDomains: new Set(["localhost"]), ...options },
  );
  return { submit, events, queued, advance: (ms: number) => (t += ms) };
}

const fromAlice = (jid: string, extra: Record<string, unknown> = {}) =>
  parseHttpReport({ jid, reason: "spam", reporter: "alice@localhost", third_party: true, report_origin: true, ...extra });

describe("intake", () => {
  it("accepts a report into the outbox and says it was received", async () => {
    const i = intake();
    const r = await i.submit(parseHttpReport({ jid: "spammer@bad.example", reason: "spam", reporter: "alice@localhost" }), API);
    expect(r).toMatchObject({ status: "accepted", withheld: [] });
    expect(i.events).toEqual(["received"]);
    expect(i.queued).toMatchObject([{ id: r.id, acceptedAt: 1000, nextAt: 1000, source: API, done: [], attempts: 0 }]);
    expect(i.queued[0]!.report.reported).toBe("spammer@bad.example");
  });

  it("the same report inside the dedupe window is a duplicate; after it, it is taken again", async () => {
    const i = intake({ dedupeWindow: 1000 });
    const body = { jid: "spammer@bad.example", reason: "spam", reporter: "alice@localhost", text: "hi" };
    expect((await i.submit(parseHttpReport(body), API)).status).toBe("accepted");
    expect((await i.submit(parseHttpReport(body), API)).status).toBe("duplicate");
    i.advance(1000);
    expect((await i.submit(parseHttpReport(body), API)).status).toBe("accepted");
    expect(i.events).toEqual(["received", "rejected duplicate", "received"]);
  });

  it("says a report was received only once it is stored; one that could not be stored is not received", async () => {
    let store!: { resolve(): void; reject(err: Error): void };
    const i = intake({}, () => new Promise<void>((resolve, reject) => (store = { resolve, reject })));
    const body = { jid: "spammer@bad.example", reason: "spam", reporter: "alice@localhost" };
    const refused = await i.submit(parseHttpReport(body), API);
    expect(refused.status).toBe("accepted");
    expect(i.events).toEqual([]); // not stored yet
    store.reject(new Error("disk full"));
    await expect(refused.status === "accepted" && refused.stored).rejects.toThrow("disk full");
    await new Promise((r) => setImmediate(r));
    expect(i.events).toEqual([]); // the submitter got a 503: nothing was received
    const taken = await i.submit(parseHttpReport(body), API); // sent again: not a duplicate of the refused one
    expect(taken.status).toBe("accepted");
    store.resolve();
    await (taken.status === "accepted" && taken.stored);
    await new Promise((r) => setImmediate(r));
    expect(i.events).toEqual(["received"]);
  });

  it("over the reporter's limit a report still goes to staff: only third parties and the origin are held back", async () => {
    const i = intake({ ...LIST, reporterLimit: 1, limitWindow: 60_000 });
    expect(await i.submit(fromAlice("a@bad.example"), API)).toMatchObject({ status: "accepted", withheld: [] });
    i.advance(10_000);
    const reason = "1 report from alice@localhost in 1 min (report_forward_reporter_limit)";
    expect(await i.submit(fromAlice("b@bad.example"), API)).toMatchObject({
      status: "accepted",
      withheld: [
        { audience: "third-party", reason },
        { audience: "origin", reason },
      ],
    });
    i.advance(50_000);
    expect(await i.submit(fromAlice("c@bad.example"), API)).toMatchObject({ status: "accepted", withheld: [] });
    expect(i.queued).toHaveLength(3);
    expect(i.queued[1]!.withheld).toHaveLength(2);
    expect(i.events).toEqual(["received", "received", "received"]);
  });

  it("one reporter's flood does not use up another's share, nor a reported JID's", async () => {
    const i = intake({ ...LIST, reporterLimit: 2, reportedLimit: 3 });
    for (let n = 0; n < 5; n++) await i.submit(fromAlice("spammer@bad.example", { text: `${n}` }), API);
    const bob = await i.submit(parseHttpReport({ jid: "spammer@bad.example", reason: "spam", reporter: "bob@localhost", third_party: true }), API);
    expect(bob).toMatchObject({ status: "accepted", withheld: [] });
    const carol = await i.submit(parseHttpReport({ jid: "spammer@bad.example", reason: "spam", reporter: "carol@localhost", third_party: true }), API);
    expect(carol).toMatchObject({
      withheld: [{ audience: "third-party", reason: "3 reports about spammer@bad.example in 1 h (report_forward_reported_limit)" }],
    });
  });

  it("unnamed reporters share a small allowance per reported JID; a named session counts as one reporter", async () => {
    const i = intake({ ...LIST, unattributedLimit: 2 });
    const unnamed = (jid: string) => parseHttpReport({ jid, reason: "spam", third_party: true });
    const held = [];
    for (let n = 0; n < 3; n++) held.push((await i.submit(unnamed("x@bad.example"), API)).status === "accepted" && i.queued.at(-1)!.withheld?.length);
    expect(held).toEqual([undefined, undefined, 1]);
    expect((await i.submit(unnamed("y@bad.example"), API)).status).toBe("accepted");
    expect(i.queued.at(-1)!.withheld).toBeUndefined(); // another JID: its own allowance
    const session = { ...API, session: "c2s1" };
    for (let n = 0; n < 3; n++) await i.submit(unnamed(`z${n}@bad.example`), session);
    expect(i.queued.slice(-3).map((e) => e.withheld?.length ?? 0)).toEqual([0, 0, 0]); // default reporter limit 10
  });

  it("a burst: after `after` reports of one reporter, the rest wait for a digest", async () => {
    const i = intake({ digest: { after: 2, window: 60_000, delay: 5_000 } });
    for (let n = 0; n < 4; n++) await i.submit(fromAlice(`s${n}@bad.example`), API);
    expect(i.queued.map((e) => e.digest)).toEqual([
      undefined,
      undefined,
      { key: "reporter alice@localhost", count: 3 },
      { key: "reporter alice@localhost", count: 4 },
    ]);
    expect(i.queued.map((e) => e.nextAt - e.acceptedAt)).toEqual([0, 0, 5000, 5000]);
    i.advance(60_000);
    await i.submit(fromAlice("later@bad.example"), API);
    expect(i.queued.at(-1)!.digest).toBeUndefined();
  });

  it("a report too large for the wire is refused before anything else", async () => {
    const i = intake({ maxStanzaBytes: 600 });
    const r = await i.submit(parseHttpReport({ jid: "spammer@bad.example", reason: "spam", text: "x".repeat(1000) }), API);
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
