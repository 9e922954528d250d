// Filing a report from a bot, the standard way: a XEP-0191 block of the offender carrying a XEP-0377
// report. The user's server blocks the JID as for any block, and its report handling (Prosody's
// mod_spam_reporting, mod_report_forward, or this package behind the gateway) takes it from there.
//
//   <iq type="set"><block xmlns="urn:xmpp:blocking"><item jid="spammer@bad.example">
//     <report xmlns="urn:xmpp:reporting:1" reason="urn:xmpp:reporting:spam">
//       <text xml:lang="en">…</text><stanza-id xmlns="urn:xmpp:sid:0" by="…" id="…"/>
//       <report-origin/><third-party/>
//     </report></item></block></iq>
//
// https://xmpp.org/extensions/xep-0191.html https://xmpp.org/extensions/xep-0377.html
import { parseJid, xml, type Element, type Iq } from "@xmppkit/core";
import { NS_REPORTING, NS_SID, REASON_ABUSE, REASON_SPAM, type StanzaIdRef } from "./report.js";

export const NS_BLOCKING = "urn:xmpp:blocking";

export interface ReportSpec {
  /** Who is reported: a bare JID, a full JID (an occupant) or a domain. */
  jid: string;
  /** "spam", "abuse", or a reason URI. */
  reason: "spam" | "abuse" | (string & {});
  /** Free text; a string, or texts by language ({ en: "…", de: "…" }). */
  text?: string | Record<string, string> | undefined;
  /** The language of a string `text`. */
  lang?: string | undefined;
  /** XEP-0359 ids of the reported messages, so the server can find them in the archive. */
  stanzaIds?: StanzaIdRef[] | undefined;
  /** XEP-0377 v0.4: let the server tell the reported JID's server. */
  reportOrigin?: boolean | undefined;
  /** XEP-0377 v0.4: let the server share the report with third parties (block lists). */
  thirdParty?: boolean | undefined;
}

export function reasonUri(reason: string): string {
  return reason === "spam" ? REASON_SPAM : reason === "abuse" ? REASON_ABUSE : reason;
}

/** The `<report xmlns="urn:xmpp:reporting:1">` element of a spec. Throws TypeError on a bad spec. */
export function reportElement(spec: ReportSpec): Element {
  if (!spec.reason) throw new TypeError("a report needs a reason (spam, abuse or a reason URI)");
  const texts = typeof spec.text === "string" ? { [spec.lang ?? ""]: spec.text } : (spec.text ?? {});
  const children: Element[] = [];
  for (const [lang, text] of Object.entries(texts)) {
    if (text.trim()) children.push(xml("text", lang ? { "xml:lang": lang } : {}, text));
  }
  for (const s of spec.stanzaIds ?? []) {
    if (!s.id || !parseJid(s.by)) throw new TypeError(`a stanza-id needs an id and a JID in by (got ${JSON.stringify(s)})`);
    children.push(xml("stanza-id", { xmlns: NS_SID, by: s.by, id: s.id }));
  }
  if (spec.reportOrigin) children.push(xml("report-origin"));
  if (spec.thirdParty) children.push(xml("third-party"));
  return xml("report", { xmlns: NS_REPORTING, reason: reasonUri(spec.reason) }, ...children);
}

/** `<block xmlns="urn:xmpp:blocking">` with one item per report. */
export function blockWithReports(specs: ReportSpec[]): Element {
  if (!specs.length) throw new TypeError("nothing to block");
  return xml(
    "block",
    NS_BLOCKING,
    ...specs.map((spec) => {
      const jid = parseJid(spec.jid);
      if (!jid) throw new TypeError(`not a JID: ${JSON.stringify(spec.jid)}`);
      return xml("item", { jid: jid.toString() }, reportElement(spec));
    }),
  );
}

/**
 * Block and report, from a client: resolves when the user's server confirmed the block; rejects with its
 * StanzaError (e.g. `not-acceptable` for a server without XEP-0191 support).
 */
export async function fileReport({ iq }: { iq: Iq }, ...specs: ReportSpec[]): Promise<void> {
  await iq.set(blockWithReports(specs));
}
