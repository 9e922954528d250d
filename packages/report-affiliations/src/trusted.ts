// Who may ask, and whose `<info/>` to believe: servers listed in `report_affiliations_trusted_servers`.
// As Prosody: the requester must be a server (no node); a server's full JID (`domain/resource`) counts.
import { parseJid } from "@xmppkit/core";

export function trustedServer(from: string | undefined, trusted: ReadonlySet<string>): string | undefined {
  const jid = parseJid(from);
  if (!jid || jid.local) return undefined;
  return trusted.has(jid.domain) ? jid.domain : undefined;
}
