import { TypedEmitter, silentLogger } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { createCompletions } from "./completions.js";
import type { DeliveryPlan, Target } from "./delivery-plan.js";
import { createDeliveryRound } from "./delivery-round.js";
import { parseHttpReport } from "./http-report.js";
import { storeReport, type OutboxEntry } from "./outbox.js";
import type { ReportForwardEvents } from "./report-types.js";

const staff: Target = { key: "staff mod@localhost", jid: "mod@localhost", audience: "staff" };
const list: Target = { key: "third-party list@blocklist.example", jid: "list@blocklist.example", audience: "third-party" };

function round(retry: Set<string>, unreachable = false) {
  const planner: DeliveryPlan = {
    plan: (_report, done) => [staff, list].filter((t) => !done.includes(t.key)),
    planOrigin: async () =>
      unreachable ? { targets: [], unreachable: [{ jid: "bad.example", audience: "origin", ok: false, error: "none" }] } : { targets: [], unreachable: [] },
    deliverTo: async (_r, _id, t) => ({ jid: t.jid, audience: t.audience, ok: !retry.has(t.key), retry: retry.has(t.key) }),
  };
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
  return { deliver: createDeliveryRound({ planner, emitter, completions, logger: silentLogger() }), forwarded, completions, entry };
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
