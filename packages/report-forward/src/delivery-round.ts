// One delivery round of an outbox entry: everything the report still lacks, at once (the origin after its
// address lookup), then what the round settled and what is tried again.
import type { Logger, TypedEmitter } from "@xmppkit/core";
import type { Completions } from "./completions.js";
import type { Delivered, DeliveryPlan, Target } from "./delivery-plan.js";
import type { AcceptedReport } from "./forward-message.js";
import { loadReport, type OutboxEntry, type Round } from "./outbox.js";
import { summaryOf, type Destination, type ReportForwardEvents } from "./report-types.js";

export interface DeliveryRoundDeps {
  planner: DeliveryPlan;
  emitter: Pick<TypedEmitter<ReportForwardEvents>, "emit">;
  completions: Pick<Completions, "record">;
  logger: Logger;
}

/** Every destination a round tried (in `targets` order, with `results` beside them), and the origin if it has none. */
interface Attempt {
  targets: Target[];
  results: Delivered[];
  unreachable: Destination[];
}

export function createDeliveryRound(deps: DeliveryRoundDeps): (entry: OutboxEntry, final: boolean) => Promise<Round> {
  const { planner, logger: log } = deps;

  async function attempt(report: AcceptedReport, entry: OutboxEntry): Promise<Attempt> {
    const deliverAll = (targets: Target[]) => Promise.all(targets.map((t) => planner.deliverTo(report, entry.id, t)));
    const now = planner.plan(report, entry.done);
    const [first, origin] = await Promise.all([
      deliverAll(now),
      planner.planOrigin(report, entry.done).then(async (o) => ({ ...o, results: await deliverAll(o.targets) })),
    ]);
    return { targets: [...now, ...origin.targets], results: [...first, ...origin.results], unreachable: origin.unreachable };
  }

  /** Say what failed, and that a report went nowhere at all. */
  function warn(entry: OutboxEntry, report: AcceptedReport, final: boolean, destinations: Destination[], again: Delivered[]) {
    for (const d of destinations.filter((x) => !x.ok))
      log.warn(
        { id: entry.id, to: d.jid, audience: d.audience, error: d.error },
        final ? "forwarding a report failed; giving up" : "forwarding a report failed",
      );
    for (const d of again) log.warn({ id: entry.id, to: d.jid, audience: d.audience, error: d.error }, "forwarding a report failed; it will be tried again");
    if (!entry.done.length && !destinations.length && !again.length) {
      log.warn(
        { id: entry.id, reported: report.reported, reportOrigin: report.reportOrigin, thirdParty: report.thirdParty },
        "a report has no destination: configure report_forward_to_staff",
      );
    }
  }

  return async function deliverRound(entry: OutboxEntry, final: boolean): Promise<Round> {
    let report: AcceptedReport;
    try {
      report = loadReport(entry.report);
    } catch (err) {
      log.error({ id: entry.id, err: (err as Error).message }, "a stored report cannot be read; it is dropped");
      return { settled: [], retry: false };
    }
    const summary = summaryOf(entry.id, report, entry.source);
    const { targets, results, unreachable } = await attempt(report, entry);
    const settledNow = results.filter((r) => !r.retry || final);
    const again = results.filter((r) => r.retry && !final);
    const destinations: Destination[] = [...settledNow.map(({ retry: _retry, ...d }) => d), ...unreachable];
    warn(entry, report, final, destinations, again);
    if (destinations.length || (!again.length && !entry.done.length)) {
      deps.emitter.emit("forwarded", { ...summary, destinations, pending: again.map((d) => d.jid) });
    }
    deps.completions.record(entry.id, destinations);
    const keys = targets.filter((_, i) => !results[i]!.retry || final).map((t) => t.key);
    if (unreachable.length) keys.push("origin");
    return { settled: keys, retry: again.length > 0 };
  };
}
