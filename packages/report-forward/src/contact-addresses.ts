// XEP-0157 Contact Addresses: where a server wants abuse reports, read from the serverinfo form in its
// disco#info. https://xmpp.org/extensions/xep-0157.html
//
// As the newest mod_report_forward: `report-addresses` (not in XEP-0157's registry, but
// what report-aware servers publish) before `abuse-addresses`; the first `xmpp:` URI without a query and
// without an authority part. Unlike the seed, every form in the reply is searched (not only those under the
// first child) and percent-encoding in the address is decoded.
import { NS_DATA, childElements, parseJid, type Element } from "@xmppkit/core";

export const SERVERINFO_FORM_TYPE = "http://jabber.org/network/serverinfo";
export const REPORT_ADDRESS_FIELDS = ["report-addresses", "abuse-addresses"] as const;

/** The values of each field of the serverinfo form, or undefined when there is no such form. */
export function serverInfoFields(discoInfo: Element): Record<string, string[]> | undefined {
  const query = discoInfo.name === "query" ? discoInfo : discoInfo.getChild("query");
  for (const form of query?.getChildren("x", NS_DATA) ?? []) {
    const fields = form.getChildren("field");
    const formType = fields
      .find((f) => f.attrs.var === "FORM_TYPE")
      ?.getChildText("value")
      ?.trim();
    if (formType !== SERVERINFO_FORM_TYPE) continue;
    const out: Record<string, string[]> = {};
    for (const f of fields) {
      const name = f.attrs.var as string | undefined;
      if (!name || name === "FORM_TYPE") continue;
      out[name] = childElements(f)
        .filter((v) => v.name === "value")
        .map((v) => v.getText().trim())
        .filter(Boolean);
    }
    return out;
  }
  return undefined;
}

/** `xmpp:abuse@example.org` → `abuse@example.org`; anything else (mailto:, https:, a query, `xmpp://`) → undefined. */
export function xmppAddress(uri: string): string | undefined {
  const m = /^xmpp:([^?#]*)$/i.exec(uri.trim());
  if (!m?.[1] || m[1].startsWith("//")) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
  const jid = parseJid(path);
  return jid && !jid.resource ? jid.toString() : undefined;
}

/** The address to send reports to, from a disco#info reply; undefined when the server publishes none. */
export function reportAddress(discoInfo: Element): string | undefined {
  const fields = serverInfoFields(discoInfo);
  if (!fields) return undefined;
  for (const name of REPORT_ADDRESS_FIELDS) {
    for (const value of fields[name] ?? []) {
      const address = xmppAddress(value);
      if (address) return address;
    }
  }
  return undefined;
}
