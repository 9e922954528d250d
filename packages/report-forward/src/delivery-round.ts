// One delivery round of an outbox entry: everything the report still lacks, at once (the origin after its
// address lookup), then what the round settled and what is tried again. A burst's entries go in one round
// together: each staff member gets one digest of them, the other audiences their own copies.
import { domainOf, type Logger, type TypedEmitter } from "@xmppkit/core";
import type { Completions } from "./completions.js";
import type { Delivered, DeliveryPlan, Target } from "./delivery-plan.js";
import type { AcceptedReport, DigestItem } from "./forward-message.js";
import { loadReport, type OutboxEntry, type Round } from "./outbox.js";
import { inWords } from "./report-limits.js";
import { summaryOf, type Destination, type ReportForwardEvents } from "./report-types.js";

export interface DeliveryRoundDeps {
  planner: DeliveryPlan;
  emitter: Pick<TypedEmitter<ReportForwardEvents>, "emit">;
  completions: Pick<Completions, "record">;
  logger: Logger;
  /** How far back a burst is counted, for the digest's heading (ms). */
  digestWindow?: number | undefined;
}

/** Every destination a round tried (in `targets` order, with `results` beside them), and the origin if it has none. */
interface Attempt {
  targets: Target[];
  results: Delivered[];
  unreachable: Destination[];
}

/** A copy already sent for this round (a staff digest), to count with the round's own. */
export interface Outcome {
  target: Target;
  result: Delivered;
}

export interface DeliveryRounds {
  /** One entry's round; `prior`: what a digest already did for it in this round. */
  round(entry: OutboxEntry, final: boolean, prior?: readonly Outcome[]): Promise<Round>;
  /** A burst's entries in one round (each staff member gets one digest); rounds in `group` order. */
  digestRound(group: readonly OutboxEntry[], finals: readonly boolean[]): Promise<Round[]>;
}

/** The first line of a digest: whose burst, how many now, how many lately. */
export function digestHeading(key: string, items: number, lately: number, windowMs: number): string {
  const [kind, ...rest] = key.split(" ");
  const who = rest.join(" ");
  const recent = lately > items ? ` (${lately} in the last ${inWords(windowMs)})` : "";
  if (kind === "reporter") return `Report digest: ${items} reports from ${who}${recent}`;
  if (kind === "reported") return `Report digest: ${items} reports about ${who}${recent}`;
  if (kind === "session") return `Report digest: ${items} reports from one session of ${rest[0]}, the server did not name the user${recent}`;
  const [via, source] = rest;
  if (via === "message" || via === "handover") return `Report digest: ${items} reports from users of ${source} the server did not name${recent}`;
  return `Report digest: ${items} reports with no reporter named (${via} from ${source})${recent}`;
}

/** Which withheld audiences this round reports as destinations (each once, on the entry's first round). */
function withheldDestinations(entry: OutboxEntry, report: AcceptedReport, thirdParties: readonly Target[]): { keys: string[]; destinations: Destination[] } {
  const keys: string[] = [];
  const destinations: Destination[] = [];
  for (const w of entry.withheld ?? []) {
    const key = `withheld ${w.audience}`;
    if (entry.done.includes(key)) continue;
    keys.push(key);
    const jids = w.audience === "origin" ? [domainOf(report.reported) ?? report.reported] : thirdParties.map((t) => t.jid);
    for (const jid of jids) destinations.push({ jid, audience: w.audience, ok: false, withheld: true, error: `held back: ${w.reason}` });
  }
  return { keys, destinations };
}

export function createDeliveryRound(deps: DeliveryRoundDeps): DeliveryRounds {
  const { planner, logger: log } = deps;

  async function attempt(report: AcceptedReport, entry: OutboxEntry, done: readonly string[]): Promise<Attempt> {
    const deliverAll = (targets: Target[]) => Promise.all(targets.map((t) => planner.deliverTo(report, entry.id, t)));
    const now = planner.plan(report, done, entry.withheld);
    const [first, origin] = await Promise.all([
      deliverAll(now),
      planner.planOrigin(report, done, entry.withheld).then(async (o) => ({ ...o, results: await deliverAll(o.targets) })),
    ]);
    return { targets: [...now, ...origin.targets], results: [...first, ...origin.results], unreachable: origin.unreachable };
  }

  /** Say what failed, and that a report went nowhere at all. */
  function warn(entry: OutboxEntry, report: AcceptedReport, final: boolean, destinations: Destination[], again: Delivered[]) {
    for (const d of destinations.filter((x) => !x.ok && !x.withheld))
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

  function readable(entry: OutboxEntry): AcceptedReport | undefined {
    try {
      return loadReport(entry.report);
    } catch (err) {
      log.error({ id: entry.id, err: (err as Error).message }, "a stored report cannot be read; it is dropped");
      return undefined;
    }
  }

  async function round(entry: OutboxEntry, final: boolean, prior: readonly Outcome[] = []): Promise<Round> {
    const report = readable(entry);
    if (!report) return { settled: [], retry: false };
    const summary = summaryOf(entry.id, report, entry.source, entry.withheld);
    const tried = await attempt(report, entry, [...entry.done, ...prior.map((o) => o.target.key)]);
    const targets = [...prior.map((o) => o.target), ...tried.targets];
    const results = [...prior.map((o) => o.result), ...tried.results];
    const held = withheldDestinations(entry, report, planner.thirdPartyTargets());
    const settledNow = results.filter((r) => !r.retry || final);
    const again = results.filter((r) => r.retry && !final);
    const destinations: Destination[] = [...settledNow.map(({ retry: _retry, ...d }) => d), ...tried.unreachable, ...held.destinations];
    warn(entry, report, final, destinations, again);
    if (destinations.length || (!again.length && !entry.done.length)) {
      deps.emitter.emit("forwarded", { ...summary, destinations, pending: again.map((d) => d.jid) });
    }
    deps.completions.record(entry.id, destinations);
    const keys = targets.filter((_, i) => !results[i]!.retry || final).map((t) => t.key);
    if (tried.unreachable.length) keys.push("origin");
    return { settled: [...keys, ...held.keys], retry: again.length > 0 };
  }

  /**
   * Each staff member's digest of the group's reports that lack it. A report whose digest message failed for
   * good (refused on the wire, say) gets no outcome here: its own round sends it to staff on its own.
   */
  async function staffDigests(members: { entry: OutboxEntry; item: DigestItem }[], key: string, lately: number): Promise<Map<string, Outcome[]>> {
    const prior = new Map<string, Outcome[]>(members.map((m) => [m.entry.id, []]));
    await Promise.all(
      planner.staffTargets().map(async (target) => {
        const lacking = members.filter((m) => !m.entry.done.includes(target.key));
        if (lacking.length < 2) return; // one report: its own round sends it as usual
        const heading = digestHeading(key, lacking.length, lately, deps.digestWindow ?? 600_000);
        const parts = await planner.deliverDigestTo(
          lacking.map((m) => m.item),
          heading,
          target,
        );
        for (const { ids, result } of parts) {
          if (!result.ok && !result.retry) continue;
          for (const id of ids) prior.get(id)?.push({ target, result: { ...result, digest: true } });
        }
      }),
    );
    return prior;
  }

  async function digestRound(group: readonly OutboxEntry[], finals: readonly boolean[]): Promise<Round[]> {
    const members = group.flatMap((entry) => {
      const report = readable(entry);
      return report ? [{ entry, item: { id: entry.id, report, withheld: entry.withheld } satisfies DigestItem }] : [];
    });
    const lately = Math.max(...group.map((e) => e.digest?.count ?? 0));
    const prior = await staffDigests(members, group[0]?.digest?.key ?? "", lately);
    return Promise.all(group.map((e, i) => round(e, finals[i] ?? false, prior.get(e.id))));
  }

  return { round, digestRound };
}
