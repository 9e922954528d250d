// The `<info/>` a server gives for one of its users: the source's record resolved to an affiliation, with
// `since` from the server's own record of the account's creation where the source gave none.
// https://xmpp.org/extensions/xep-0489.html
import { resolveInfo } from "./affiliation-source.js";
import type { ReportAffiliationsOptions } from "./affiliations.js";
import type { AffiliationInfo } from "./info.js";

export type InfoLookup = (jid: string) => Promise<AffiliationInfo>;

export type InfoLookupOptions = Pick<ReportAffiliationsOptions, "source" | "roles" | "defaultTrust" | "anonymousHost" | "accountCreated">;

export function createInfoLookup(options: InfoLookupOptions): InfoLookup {
  return async (jid) => {
    const record = options.source ? await options.source(jid) : undefined;
    const info = resolveInfo(record, {
      ...(options.roles ? { roles: options.roles } : {}),
      ...(options.defaultTrust !== undefined ? { defaultTrust: options.defaultTrust } : {}),
      anonymousHost: options.anonymousHost ?? false,
    });
    // The server's record of the account's creation, where the source gave none (its own `since` wins) and
    // the affiliation carries one (registered and anonymous, as resolveInfo; an anonymous host's sessions
    // are no accounts, with nothing to ask for).
    const carriesSince = info.affiliation === "registered" || info.affiliation === "anonymous";
    if (!options.accountCreated || info.since || !carriesSince || options.anonymousHost) return info;
    const created = await options.accountCreated(jid).catch(() => undefined);
    return created ? { ...info, since: created } : info;
  };
}
