// The setup function (xmpp.js style: dependencies in, a typed handle out), for the gateway and for any Node
// app with an event bus and a store: opens the GeoIP database (or goes on without location, saying why
// once), opens the audit log, records the bus's events, purges on a schedule, and tracks started/stopped/
// crashed with a heartbeat.
import type { EventBus, Logger, Store } from "@xmppkit/core";
import type { AuditEventInput, AuditEvent } from "./audit-event.js";
import { openAuditLog, type AuditLog, type AuditLogOptions } from "./audit-log.js";
import { recordBusEvents, type RecordBusEventsOptions } from "./bus-events.js";
import { defaultDatabasePath, openGeoIp, type GeoIp } from "./geoip.js";
import { trackRunStatus, type RunStatus, type RunStatusOptions } from "./run-status.js";

export interface AuditGeoipOptions extends AuditLogOptions, Pick<RecordBusEventsOptions, "httpExclude" | "extraTypes" | "serverDomain"> {
  /** Look up the country of IPs (`audit_log_location`, default true). */
  location?: boolean;
  /** A .mmdb file (MaxMind GeoLite2/GeoIP2 Country or City, or any ip-location-db country file); default: the bundled one. */
  geoipDatabase?: string | undefined;
  /** How often expired and over-quota events are purged (default 1 hour; also once at start). 0: never. */
  purgeIntervalMs?: number;
  /** Record started/stopped/crashed for this run; omit for a library use that has no "run". */
  runStatus?: Omit<RunStatusOptions, "instance"> & { instance?: string };
}

export interface AuditGeoip {
  readonly log: AuditLog;
  /** The open GeoIP database; undefined when location is off or the database could not be opened. */
  readonly geoip: GeoIp | undefined;
  /** Why there is no location, when location was asked for and is not there. */
  readonly locationUnavailable: string | undefined;
  /** Record an event of your own (it goes through the same IP and location rules). */
  record(input: AuditEventInput): Promise<AuditEvent>;
  /** Stop recording, write the stop event and everything queued. The store stays open. */
  stop(reason?: string): Promise<void>;
}

export async function setupAuditGeoip(
  deps: { events?: Pick<EventBus, "onAny"> | undefined; store: Store; logger?: Logger | undefined; onDrop?: (() => void) | undefined },
  options: AuditGeoipOptions,
): Promise<AuditGeoip> {
  const { store, logger } = deps;
  let geoip: GeoIp | undefined;
  let locationUnavailable: string | undefined;
  if ((options.location ?? true) && (options.ips ?? true)) {
    try {
      geoip = await openGeoIp(options.geoipDatabase ?? defaultDatabasePath(), {
        onLoadError: (err) => logger?.warn({ reason: err.message }, "audit events will be logged without location"),
      });
      logger?.info({ database: geoip.databasePath, type: geoip.databaseType }, "GeoIP database opened (read into memory at the first public address)");
    } catch (err) {
      // As mod_audit: no database, no location. Said once, here, not per event.
      locationUnavailable = (err as Error).message;
      logger?.warn({ reason: locationUnavailable }, "audit events will be logged without location");
    }
  }

  const log = await openAuditLog({ store, geoip, logger, onDrop: deps.onDrop }, options);
  const unsubscribe = deps.events
    ? recordBusEvents(deps.events, log, {
        ...(options.httpExclude ? { httpExclude: options.httpExclude } : {}),
        ...(options.serverDomain ? { serverDomain: options.serverDomain } : {}),
        ...(options.extraTypes ? { extraTypes: options.extraTypes } : {}),
        // A full queue is counted and said once per outage by the log itself, not once per event.
        onError: (err, type) => {
          if ((err as Error).name !== "QueueFullError") logger?.error({ err, type }, "recording an audit event failed");
        },
      })
    : () => undefined;

  let status: RunStatus | undefined;
  if (options.runStatus) status = await trackRunStatus({ store, audit: log }, { instance: options.host, ...options.runStatus });

  const purge = async () => {
    try {
      const { expired, overQuota } = await log.purge();
      if (expired || overQuota) logger?.info({ expired, overQuota }, "pruned audit log entries");
    } catch (err) {
      logger?.error({ err }, "pruning the audit log failed");
    }
  };
  const purgeEvery = options.purgeIntervalMs ?? 3_600_000;
  let purging: Promise<void> = purge();
  const timer =
    purgeEvery > 0
      ? setInterval(() => {
          purging = purge();
        }, purgeEvery)
      : undefined;
  timer?.unref();

  let stopped = false;
  return {
    log,
    geoip,
    locationUnavailable,
    record: (input) => log.record(input),
    async stop(reason) {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      clearInterval(timer);
      await purging;
      await status?.stop(reason);
      await log.close();
    },
  };
}
