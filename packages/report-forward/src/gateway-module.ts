// The gateway module: `modules_enabled: [report-forward]` (plus track-muc-joins for staff rooms) and a
// `report-forward:` section.
import { defineModule, type PermissionRequirement } from "@xmppkit/core";
import { gatewayModule as trackMucJoins } from "@xmppkit/track-muc-joins/gateway";
import { registerReportRoutes } from "./http-report.js";
import { reportForwardOptions } from "./options.js";
import { setupReportForward, type ReportForward, type StaffRoomJoins } from "./report-forward.js";
import type {} from "./events.js"; // the bus events this module emits

const MESSAGE: PermissionRequirement = { access: "message", type: "outgoing" };

export const gatewayModule = defineModule({
  name: "report-forward",
  description:
    "forwards XEP-0377 abuse reports to staff, third parties and the reported server's XEP-0157 address, as the reporter opted in (Prosody's mod_report_forward)",
  options: reportForwardOptions,
  // The store keeps accepted reports until they are delivered (the outbox).
  requires: (o) => ({ http: o.report_forward_http, store: true, permissions: o.report_forward_as_server ? [MESSAGE] : [], optionalModules: [trackMucJoins] }),
  async setup(ctx, o): Promise<ReportForward> {
    const { kit, log, events, metrics } = ctx;
    // Staff rooms are found at run time (a disco of the JID's domain): joined through track-muc-joins when enabled.
    const rooms: StaffRoomJoins | undefined = ctx.optionalModule(trackMucJoins);
    const joins = () => rooms;
    const desk = setupReportForward(
      { ...kit, joins, store: ctx.store, logger: log },
      {
        sources: o.report_forward_sources,
        staff: o.report_forward_to_staff,
        staffNick: o.report_forward_staff_nick,
        staffRooms: o.report_forward_staff_rooms,
        thirdParties: o.report_forward_to,
        toOrigin: o.report_forward_to_origin,
        originFallback: o.report_forward_to_origin_fallback,
        requireOptIn: o.report_forward_require_opt_in,
        lookupTimeout: o.report_forward_contact_lookup_timeout,
        contactCacheSize: o.report_forward_contact_cache_size,
        contactCacheTtl: o.report_forward_contact_cache_ttl,
        ...(o.report_forward_body_template ? { bodyTemplate: o.report_forward_body_template } : {}),
        ...(o.report_forward_staff_body_template ? { staffBodyTemplate: o.report_forward_staff_body_template } : {}),
        asServer: o.report_forward_as_server,
        dedupeWindow: o.report_forward_dedupe_window,
        reporterLimit: o.report_forward_reporter_limit,
        reportedLimit: o.report_forward_reported_limit,
        unattributedLimit: o.report_forward_unattributed_limit,
        limitWindow: o.report_forward_limit_window,
        digest: { after: o.report_forward_digest_after, window: o.report_forward_digest_window, delay: o.report_forward_digest_delay },
        outbox: { maxAgeMs: o.report_forward_max_age },
      },
    );
    if (o.report_forward_source_limit !== undefined)
      log.warn(
        "report_forward_source_limit is no longer used: one budget for a whole server let one user's flood silence everyone; limits are per reporter and per reported JID now",
      );
    if (!o.report_forward_to_staff.length && !o.report_forward_staff_rooms.length && !o.report_forward_to.length && !o.report_forward_to_origin) {
      log.warn("report-forward has nowhere to send reports: set report_forward_to_staff, report_forward_to or report_forward_to_origin");
    }
    const received = metrics.counter(ctx.name, "received_total", "Reports taken in, by intake and reason", ["via", "reason"]);
    const waiting = metrics.gauge(ctx.name, "outbox_reports", "Accepted reports not yet delivered everywhere");
    const forwarded = metrics.counter(ctx.name, "forwarded_total", "Forwarded copies, by audience and outcome", ["audience", "outcome"]);
    const rejected = metrics.counter(ctx.name, "rejected_total", "Reports refused or not forwarded, by why", ["reason"]);
    desk.on("received", (r) => {
      received.inc({ via: r.via, reason: r.reason });
      setImmediate(() => waiting.set(desk.pending));
      events.emit("report-received", r);
    });
    desk.on("forwarded", (r) => {
      for (const d of r.destinations) forwarded.inc({ audience: d.audience, outcome: d.ok ? "ok" : d.withheld ? "withheld" : "error" });
      setImmediate(() => waiting.set(desk.pending));
      events.emit("report-forwarded", r);
    });
    desk.on("rejected", (r) => {
      rejected.inc({ reason: r.reason });
      events.emit("report-rejected", r);
    });
    if (ctx.http) registerReportRoutes(ctx.http, desk, { path: o.report_forward_http_path });
    ctx.onStop(() => desk.stop()); // before waiting: a desk whose store fails to load is stopped too
    await desk.ready; // reports a previous run accepted are loaded (and delivered once online)
    return desk;
  },
});
