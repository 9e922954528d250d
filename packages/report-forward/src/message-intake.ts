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
}

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
    const reporter = deriveReporter(parsed, serverDomains);
    const reporterHint = reporter ? undefined : `a user of ${domainOf(from) ?? from}; the server did not name them`;
    submit(
      { ...parsed, element: findReport(stanza)!, reporter, reporterHint },
      { via: "message", source: from, messageId: stanza.attrs.id as string | undefined },
    );
    return true;
  });
}
