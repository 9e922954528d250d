// The gateway module: `modules_enabled: [audit-geoip]` and an `audit-geoip:` section. It records what the
// gateway and every module put on the event bus, into the gateway's store, serves GET /audit and /audit/, and
// adds the `xmppkit-gateway audit` command.
import { hostname } from "node:os";
import { defineModule } from "@xmppkit/core";
import { auditCommand } from "./audit-command.js";
import { setupAuditGeoip, type AuditGeoip } from "./audit-geoip.js";
import { registerAuditRoutes } from "./audit-http.js";
import { auditGeoipOptions } from "./options.js";

export const gatewayModule = defineModule({
  name: "audit-geoip",
  description:
    "an audit log of the gateway's events with GeoIP location for HTTP callers, in the gateway's store, with GET /audit and a page at /audit/ (Prosody's mod_audit)",
  options: auditGeoipOptions,
  requires: { store: true, http: true },
  commands: { audit: auditCommand },
  async setup(ctx, o): Promise<AuditGeoip> {
    const { kit, log, events, store, http } = ctx;
    if (!store) throw new Error("audit-geoip needs the gateway's store");
    const host = kit.entity.options?.domain ?? kit.serverDomain ?? "localhost";
    const dropped = ctx.metrics.counter(ctx.name, "dropped_total", "Audit events dropped because the database was unreachable and the queue full");
    const audit = await setupAuditGeoip(
      { events, store, logger: log, onDrop: () => dropped.inc() },
      {
        host,
        serverDomain: kit.serverDomain,
        ips: o.audit_log_ips,
        ipv4Prefix: o.audit_log_ipv4_prefix,
        ipv6Prefix: o.audit_log_ipv6_prefix,
        expiresAfterMs: o.audit_log_expires_after,
        maxRows: o.audit_log_max_rows === false ? null : o.audit_log_max_rows,
        purgeIntervalMs: o.audit_log_purge_interval,
        location: o.audit_log_location,
        geoipDatabase: o.audit_log_geoip_database,
        httpExclude: o.audit_log_http_exclude,
        extraTypes: o.audit_log_extra_events,
        // One status per gateway machine: an active/standby pair sharing the log must not take each
        // other's run for a crash. A restart on the same machine finds its own previous run.
        runStatus: { subject: "gateway", module: "gateway", heartbeatMs: o.audit_status_heartbeat_interval, instance: `${host} on ${hostname()}` },
      },
    );
    if (http) registerAuditRoutes(http, audit.log, { page: o.audit_log_web });
    ctx.onStop(() => audit.stop());
    return audit;
  },
});
