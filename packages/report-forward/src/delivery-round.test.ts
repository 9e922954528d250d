import { TypedEmitter, silentLogger } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { createCompletions } from "./completions.js";
import type { DeliveryPlan, Target } from "./delivery-plan.js";
import { createDeliveryRound, digestHeading } from "./delivery-round.js";
import { parseHttpReport } from "./http-report.js";
import { storeReport, type OutboxEntry } from "./outbox.js";
import type { ReportForwardEvents } from "./report-types.js";

const staff: Target = { key: "staff mod@localhost", jid: "mod@localhost", audience: "staff" };
const list: Target = { key: "third-party list@blocklist.example", jid: "list@blocklist.example", audience: "third-party" };

function round(retry: Set<string>, unreachable = false) {
  const planner: DeliveryPlan = {
    plan: (_report, done, withheld = []) => [staff, ...(withheld.some((w) => w.audience === "third-party") ? [] : [list])].filter((t) => !done.includes(t.key)),
    staffTargets: () => [staff],
    thirdPartyTargets: () => [list],
    planOrigin: async () =>
      unreachable ? { targets: [], unreachable: [{ jid: "bad.example", audience: "origin", ok: false, error: "none" }] } : { targets: [], unreachable: [] },
    deliverTo: async (_r, _id, t) => {
      sent.push(`${t.jid} ${_id}`);
      return { jid: t.jid, audience: t.audience, ok: !retry.has(t.key), retry: retry.has(t.key) };
    },
    deliverDigestTo: async (items, heading, t) => {
      sent.push(`${t.jid} digest ${items.map((i) => i.id).join(",")}: ${heading}`);
      // One message per report whose id says "refused" (refused on the wire), the rest in one.
      const refused = items.filter((i) => i.id.startsWith("refused")).map((i) => i.id);
      const rest = items.filter((i) => !refused.includes(i.id)).map((i) => i.id);
      return [
        { ids: rest, result: { jid: t.jid, audience: t.audience, ok: !retry.has(t.key), retry: retry.has(t.key) } },
        ...refused.map((id) => ({ ids: [id], result: { jid: t.jid, audience: t.audience, ok: false, error: "refused", retry: false } })),
      ];
    },
  };
  const sent: string[] = [];
  const emitter = new TypedEmitter<ReportForwardEvents>();
  const forwarded: ReportForwardEvents["forwarded"][] = [];
  emitter.on("forwarded", (f) => forwarded.push(f));
  const completions = createCompletions();
  const entry: OutboxEntry = {
    id: "r1",
    acceptedAt: 0,
    report: storeReport(parseHttpReport({ jid: "spammer@bad.example", reason: "spam", third_party: true })),
    source: { via: "api", source: "test" },
    done: [],
    attempts: 0,
    nextAt: 0,
  };
  const rounds = createDeliveryRound({ planner, emitter, completions, logger: silentLogger() });
  return { deliver: rounds.round, rounds, forwarded, completions, entry, sent };
}

describe("a delivery round", () => {
  it("settles what got it (and an unreachable origin), and asks again for the rest", async () => {
    const r = round(new Set([list.key]), true);
    const all = r.completions.expect("r1");
    expect(await r.deliver(r.entry, false)).toEqual({ settled: [staff.key, "origin"], retry: true });
    expect(r.forwarded).toMatchObject([
      {
        id: "r1",
        destinations: [
          { jid: staff.jid, ok: true },
          { jid: "bad.example", ok: false },
        ],
        pending: [list.jid],
      },
    ]);
    r.completions.finish("r1");
    expect((await all).map((d) => d.jid)).toEqual([staff.jid, "bad.example"]);
  });

  it("the final round settles everything, failed or not", async () => {
    const r = round(new Set([list.key]));
    expect(await r.deliver(r.entry, true)).toEqual({ settled: [staff.key, list.key], retry: false });
    expect(r.forwarded[0]!.destinations.map((d) => d.ok)).toEqual([true, false]);
  });

  it("a stored report that cannot be read is dropped", async () => {
    const r = round(new Set());
    expect(await r.deliver({ ...r.entry, report: { ...r.entry.report, element: "<broken" } }, false)).toEqual({ settled: [], retry: false });
    expect(r.forwarded).toEqual([]);
  });
});

describe("held back and digests", () => {
  it("an audience a limit held back is said once, as a destination that was not sent", async () => {
    const r = round(new Set());
    const entry = { ...r.entry, withheld: [{ audience: "third-party" as const, reason: "10 reports from dave@localhost in 1 h" }] };
    expect(await r.deliver(entry, false)).toEqual({ settled: [staff.key, "withheld third-party"], retry: false });
    expect(r.sent).toEqual([`${staff.jid} r1`]);
    expect(r.forwarded[0]!.destinations).toEqual([
      { jid: staff.jid, audience: "staff", ok: true },
      { jid: list.jid, audience: "third-party", ok: false, withheld: true, error: "held back: 10 reports from dave@localhost in 1 h" },
    ]);
    expect(r.forwarded[0]!.withheld).toEqual(entry.withheld);
  });

  it("a burst's entries go together: staff get one digest, third parties their own copies", async () => {
    const r = round(new Set());
    const group = ["a", "b", "c"].map((id) => ({ ...r.entry, id, digest: { key: "reporter dave@localhost", count: 7 } }));
    const rounds = await r.rounds.digestRound(group, [false, false, false]);
    expect(rounds).toEqual(Array(3).fill({ settled: [staff.key, list.key], retry: false }));
    expect(r.sent).toEqual([
      `${staff.jid} digest a,b,c: Report digest: 3 reports from dave@localhost (7 in the last 10 min)`,
      `${list.jid} a`,
      `${list.jid} b`,
      `${list.jid} c`,
    ]);
    expect(r.forwarded.map((f) => f.destinations[0])).toEqual(Array(3).fill({ jid: staff.jid, audience: "staff", ok: true, digest: true }));
  });

  it("a failed digest is tried again for every report in it; one already delivered to staff is left out", async () => {
    const r = round(new Set([staff.key]));
    const group = ["a", "b", "c"].map((id) => ({ ...r.entry, id, digest: { key: "reported spammer@bad.example", count: 3 } }));
    group[2]!.done = [staff.key];
    const rounds = await r.rounds.digestRound(group, [false, false, false]);
    expect(rounds.map((x) => x.retry)).toEqual([true, true, false]);
    expect(r.sent[0]).toBe(`${staff.jid} digest a,b: Report digest: 2 reports about spammer@bad.example (3 in the last 10 min)`);
  });
});

describe("a digest message refused for good", () => {
  it("its reports are sent to staff on their own in the same round; the others count as delivered in the digest", async () => {
    const r = round(new Set());
    const group = ["a", "refused-b", "c"].map((id) => ({ ...r.entry, id, digest: { key: "reporter dave@localhost", count: 3 } }));
    const rounds = await r.rounds.digestRound(group, [false, false, false]);
    expect(rounds.map((x) => x.settled)).toEqual(Array(3).fill([staff.key, list.key]));
    expect(r.sent.filter((x) => x.startsWith(staff.jid))).toEqual([
      `${staff.jid} digest a,refused-b,c: Report digest: 3 reports from dave@localhost`,
      `${staff.jid} refused-b`,
    ]);
  });
});

describe("digestHeading", () => {
  it("says whose burst it is, and how many lately when that is more", () => {
    expect(digestHeading("reporter dave@localhost", 37, 40, 600_000)).toBe("Report digest: 37 reports from dave@localhost (40 in the last 10 min)");
    expect(digestHeading("reported x@bad.example", 5, 5, 600_000)).toBe("Report digest: 5 reports about x@bad.example");
    expect(digestHeading("unnamed message localhost", 4, 6, 3_600_000)).toBe(
      "Report digest: 4 reports from users of localhost the server did not name (6 in the last 1 h)",
    );
    expect(digestHeading("unnamed http 127.0.0.1", 4, 4, 600_000)).toBe("Report digest: 4 reports with no reporter named (http from 127.0.0.1)");
    expect(digestHeading("session web c2s1", 4, 4, 600_000)).toBe("Report digest: 4 reports from one session of web, the server did not name the user");
  });
});
