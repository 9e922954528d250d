// Reports the server hands over itself, with the reporter named: the companion Prosody module
// mod_xmppkit_report_forward (in this package's `prosody/` folder) sends each XEP-0377 report
// (https://xmpp.org/extensions/xep-0377.html) that mod_spam_reporting raises to the component as
//
//   <iq type="set" from="example.org" to="gateway.example.org">
//     <handover xmlns="urn:xmppkit:report-forward:0" reporter="dave@example.org" resource="…" session="…" type="spam">
//       <report xmlns="urn:xmpp:reporting:1" reason="…">…<jid xmlns="urn:xmpp:jid:0">reported</jid></report>
//       <forwarded xmlns="urn:xmpp:forward:0">…</forwarded>            (when the reported message was archived)
//     </handover>
//   </iq>
//
// Only a served domain itself may send one (on a component link nobody else can use the server's domain as
// `from`), and the reporter must be one of its accounts. The answer comes once the report is stored, so the
// module keeps it and sends it again while the gateway is away or cannot store it. The server advertises
// the module on its disco#info (checked at every connect); where it does, mod_report_forward's copy of the
// same report is not needed and is dropped.
import { NS_FORWARD, StanzaError, bareJid, hasFeature, parseJid, type Element, type Iq, type Lifecycle, type Logger } from "@xmppkit/core";
import type { Submit } from "./intake.js";
import { ReportParseError, findReport, parseForwarded, parseReport, type ParsedReport } from "./report.js";

export const NS_REPORT_HANDOVER = "urn:xmppkit:report-forward:0";

export interface ServerHandoverDeps {
  iq: Iq;
  lifecycle: Pick<Lifecycle, "on" | "off" | "online">;
  kind: "client" | "component";
  /** The served domains: the only senders of a handover, and the only domains of a reporter. */
  serverDomains: ReadonlySet<string>;
  submit: Submit;
  logger: Logger;
}

export interface ServerHandover {
  /**
   * Does `domain`'s server hand its reports over itself (so that its mod_report_forward messages are copies)?
   * After a connect, waits for the check.
   */
  namesReporters(domain: string): Promise<boolean>;
  stop(): void;
}

/** The report a handover carries, or a ReportParseError saying what is wrong with it. */
export function parseHandover(handover: Element, serverDomains: ReadonlySet<string>): ParsedReport & { element: Element; reporter: string } {
  const reporter = parseJid(handover.attrs.reporter as string | undefined);
  if (!reporter?.local || reporter.resource || !serverDomains.has(reporter.domain))
    throw new ReportParseError(`reporter must be an account of ${[...serverDomains].join(", ")}, got ${JSON.stringify(handover.attrs.reporter ?? null)}`);
  const element = findReport(handover);
  if (!element) throw new ReportParseError('the handover carries no <report xmlns="urn:xmpp:reporting:1">');
  const parsed = parseReport(element);
  const forwarded = handover.getChild("forwarded", NS_FORWARD);
  return { ...parsed, ...(forwarded ? { forwarded: parseForwarded(forwarded) } : {}), element, reporter: reporter.toString() };
}

export function listenForHandovers(deps: ServerHandoverDeps): ServerHandover {
  const { iq, lifecycle, kind, serverDomains, submit, logger: log } = deps;
  let stopped = false;
  const detected = new Map<string, Promise<boolean>>();

  iq.handle("set", NS_REPORT_HANDOVER, "handover", async ({ stanza, element, from }) => {
    // Stopping: type "wait" tells the module to keep the report and send it again (to this or the next process).
    if (stopped) throw new StanzaError("service-unavailable", "wait", "the abuse desk is stopping; send the report again");
    if (!serverDomains.has(from)) throw new StanzaError("forbidden", "auth", "only the server itself hands reports over");
    let report: ReturnType<typeof parseHandover>;
    try {
      report = parseHandover(element, serverDomains);
    } catch (err) {
      if (!(err instanceof ReportParseError)) throw err;
      log.warn({ from, error: err.message }, "a report handed over by the server is malformed");
      throw new StanzaError("bad-request", "modify", err.message);
    }
    const session = (element.attrs.session ?? element.attrs.resource) as string | undefined;
    const result = await submit(report, { via: "handover", source: from, messageId: stanza.attrs.id as string | undefined, session });
    if (result.status === "invalid") throw new StanzaError("bad-request", "modify", result.error);
    if (result.status === "too-large") throw new StanzaError("not-acceptable", "modify", result.error);
    if (result.status === "accepted") {
      await result.stored.catch(() => {
        throw new StanzaError("internal-server-error", "wait", "the report could not be stored; send it again");
      });
    }
    return true; // accepted, or a duplicate of one that was
  });

  const detect = () => {
    if (kind !== "component") return;
    for (const domain of serverDomains) {
      // Only a definite answer counts: a wrong "no" makes every report arrive twice (the handover and
      // mod_report_forward's copy), so a disco that does not answer is asked again.
      const check = hasFeature(iq, domain, NS_REPORT_HANDOVER, { tries: 3 }).then((on) => {
        if (on) log.info({ server: domain }, "the server names reporters (mod_xmppkit_report_forward): its reports come with their reporter");
        else
          log.info(
            { server: domain },
            "the server does not advertise mod_xmppkit_report_forward: reports from mod_report_forward arrive without their reporter",
          );
        return on;
      });
      detected.set(domain, check);
    }
  };
  lifecycle.on("online", detect);
  if (lifecycle.online) detect();

  return {
    // Waited for a few seconds at most: a report late for a disco that does not come back would be worse
    // than a copy taken twice.
    namesReporters: (domain) =>
      Promise.race([detected.get(bareJid(domain) ?? domain) ?? Promise.resolve(false), new Promise<boolean>((r) => setTimeout(r, 5000, false).unref())]),
    stop() {
      stopped = true;
      lifecycle.off("online", detect);
    },
  };
}
