// Reports a server hands over as messages (mod_report_forward's format: a <message> with an XEP-0377
// <report> and <jid xmlns="urn:xmpp:jid:0">, https://xmpp.org/extensions/xep-0377.html): taken from the
// listed sources only, answered with an error when refused.
import { StanzaError, bareJid, domainOf, parseJid, xml, type Element, type Logger, type Stanzas, type TypedEmitter } from "@xmppkit/core";
import type { AcceptedReport } from "./forward-message.js";
import type { Submit } from "./intake.js";
import { ReportParseError, findReport, parseReportMessage, type ParsedReport } from "./report.js";
import type { RejectReason, ReportForwardEvents } from "./report-types.js";

/**
 * Who filed a report the server forwarded, when the stanza says so: the forwarded copy's `to` (the
 * reported message was in their archive), or a stanza-id whose `by` is their account (XEP-0359: the
 * archiving entity). Only an account of the served domains counts, never the reported JID itself.
 */
export function deriveReporter(report: Pick<AcceptedReport, "reported" | "stanzaIds" | "forwarded">, serverDomains: ReadonlySet<string>): string | undefined {
  const reported = bareJid(report.reported);
  for (const candidate of [report.forwarded?.message.attrs.to as string | undefined, ...report.stanzaIds.map((s) => s.by)]) {
    const j = parseJid(candidate);
    if (j?.local && serverDomains.has(j.domain) && j.bare().toString() !== reported) return j.bare().toString();
  }
  return undefined;
}

export interface MessageIntakeDeps {
  stanzas: Pick<Stanzas, "onIncoming" | "send">;
  kind: "client" | "component";
  /** Bare JIDs whose report messages are taken. */
  sources: ReadonlySet<string>;
  serverDomains: ReadonlySet<string>;
  submit: Submit;
  emitter: Pick<TypedEmitter<ReportForwardEvents>, "emit">;
  logger: Logger;
  /** Does this domain's server hand its reports over itself (mod_xmppkit_report_forward)? Its messages are then copies. */
  namesReporters?(domain: string): Promise<boolean>;
}

/** What staff read when the server did not name the reporter. */
export const unnamedReporter = (domain: string) => `a user of ${domain}; the server did not name them (mod_xmppkit_report_forward would)`;

/** Take report messages from the sources until the returned function is called. */
export function listenForReports(deps: MessageIntakeDeps): () => void {
  const { stanzas, kind, sources, serverDomains, submit, emitter, logger: log } = deps;

  function rejectIntake(stanza: Element, condition: string, type: "auth" | "modify", reason: RejectReason, error: string) {
    const from = String(stanza.attrs.from ?? "");
    log.warn({ from, reason, error }, "report message refused");
    emitter.emit("rejected", { via: "message", source: from, reason, error });
    if (!from) return;
    const attrs: Record<string, string> = { type: "error", to: from };
    if (stanza.attrs.id) attrs.id = stanza.attrs.id;
    if (kind === "component" && stanza.attrs.to) attrs.from = stanza.attrs.to;
    void stanzas.send(xml("message", attrs, new StanzaError(condition, type, error).toElement())).catch(() => undefined);
  }

  async function take(stanza: Element, from: string, parsed: ParsedReport) {
    const domain = domainOf(from) ?? from;
    if (from === domain && (await deps.namesReporters?.(domain))) {
      log.debug({ from, id: stanza.attrs.id }, "mod_report_forward's copy of a report the server handed over itself: dropped");
      return;
    }
    const reporter = deriveReporter(parsed, serverDomains);
    await submit(
      { ...parsed, element: findReport(stanza)!, reporter, reporterHint: reporter ? undefined : unnamedReporter(domain) },
      { via: "message", source: from, messageId: stanza.attrs.id as string | undefined },
    );
  }

  return stanzas.onIncoming((stanza) => {
    if (stanza.name !== "message" || stanza.attrs.type === "error" || stanza.attrs.type === "groupchat" || !findReport(stanza)) return;
    const from = String(stanza.attrs.from ?? "");
    if (!sources.has(bareJid(from) ?? from)) {
      rejectIntake(stanza, "forbidden", "auth", "unlisted-source", `${from || "(no sender)"} is not in report_forward_sources`);
      return true;
    }
    let parsed: ParsedReport;
    try {
      parsed = parseReportMessage(stanza);
    } catch (err) {
      if (!(err instanceof ReportParseError)) throw err;
      rejectIntake(stanza, "bad-request", "modify", "malformed", err.message);
      return true;
    }
    void take(stanza, from, parsed).catch((err: unknown) => log.error({ err, from }, "a report message could not be taken"));
    return true;
  });
}
