// The gateway module: `modules_enabled: [report-affiliations]` and a `report-affiliations:` section; the
// server delegates `urn:xmpp:raa:0` to the gateway (XEP-0355, https://xmpp.org/extensions/xep-0355.html).
// Where the server advertises account creation times (Prosody 13 with mod_xmppkit_account_info, checked at
// every connect), XEP-0489 answers get `since` from them (https://xmpp.org/extensions/xep-0489.html).
import { defineModule } from "@xmppkit/core";
import { accountCreation, supportsAccountInfo, type AccountCreation } from "./account-info.js";
import { chainSources, httpSource, staticSource, type AffiliationSource } from "./affiliation-source.js";
import { setupReportAffiliations, type ReportAffiliations } from "./affiliations.js";
import { NS_RAA } from "./info.js";
import { reportAffiliationsOptions } from "./options.js";
import type {} from "./events.js"; // the bus events this module emits

export const gatewayModule = defineModule({
  name: "report-affiliations",
  description:
    "answers XEP-0489 account-affiliation queries for the server's users through delegation, and stamps the gateway's own stanzas (Prosody's mod_report_affiliations)",
  options: reportAffiliationsOptions,
  requires: { delegations: [NS_RAA] },
  setup(ctx, o): ReportAffiliations {
    const { kit, log, events, metrics } = ctx;
    const sources: AffiliationSource[] = [staticSource({ admins: o.report_affiliations_admins, members: o.report_affiliations_members })];
    if (o.report_affiliations_url) {
      sources.push(httpSource({ url: o.report_affiliations_url, timeout: o.report_affiliations_url_timeout, headers: o.report_affiliations_url_headers }));
    }
    const created =
      o.report_affiliations_account_info === false
        ? undefined
        : accountCreation({ iq: kit.iq, logger: log }, { ttl: o.report_affiliations_account_info_ttl, timeout: o.report_affiliations_account_info_timeout });
    const raa = setupReportAffiliations(
      { ...kit, logger: log },
      {
        trustedServers: o.report_affiliations_trusted_servers,
        source: chainSources(...sources),
        ...(created ? { accountCreated: created.created } : {}),
        roles: {
          admin: o.report_affiliations_admin_roles,
          member: o.report_affiliations_member_roles,
          registered: o.report_affiliations_registered,
          anonymous: o.report_affiliations_anonymous,
        },
        defaultTrust: o.report_affiliations_default_trust,
        anonymousHost: o.report_affiliations_anonymous_host,
        stamp: o.report_affiliations_stamp,
        self: { affiliation: o.report_affiliations_self },
      },
    );
    if (!o.report_affiliations_trusted_servers.length) log.warn("report_affiliations_trusted_servers is empty: every query will be answered with forbidden");
    const queries = metrics.counter(ctx.name, "queries_total", "XEP-0489 queries by outcome and route", ["outcome", "via"]);
    raa.on("queried", (q) => {
      queries.inc({ outcome: q.outcome, via: q.via });
      log.info(q, q.outcome === "answered" ? "affiliation query answered" : `affiliation query ${q.outcome}`);
      events.emit("affiliation-queried", q);
    });
    // Checked on every (re)connect: the operator may have loaded or removed the module while we were away.
    async function detectAccountInfo(access: AccountCreation, required: boolean) {
      for (const server of kit.serverDomains) {
        const on = await supportsAccountInfo(kit.iq, server);
        access.use(server, on);
        if (on) log.info({ server }, "the server tells when accounts were made (mod_xmppkit_account_info): XEP-0489 answers carry since");
        else if (required)
          log.warn({ server }, "report_affiliations_account_info is true but the server does not advertise mod_xmppkit_account_info: no since");
      }
    }
    if (created) {
      const required = o.report_affiliations_account_info === true;
      ctx.onStop(kit.lifecycle.on("online", () => void detectAccountInfo(created, required)));
    }
    ctx.onStop(() => raa.stop());
    return raa;
  },
});
