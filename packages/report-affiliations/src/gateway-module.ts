// The gateway module: `modules_enabled: [report-affiliations]` and a `report-affiliations:` section; the
// server delegates `urn:xmpp:raa:0` to the gateway (XEP-0355).
import { defineModule } from "@xmppkit/core";
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
    const raa = setupReportAffiliations(
      { ...kit, logger: log },
      {
        trustedServers: o.report_affiliations_trusted_servers,
        source: chainSources(...sources),
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
    ctx.onStop(() => raa.stop());
    return raa;
  },
});
