// Active/standby (`ha:`): which instance holds the PostgreSQL lease for the component's domain, and so opens
// the link. The others wait as standbys and say so on /healthz and in the `gateway_ha_active` gauge.
import type { EventBus, Logger } from "@xmppkit/core";
import { instanceName, postgresLease, type Lease, type PrometheusMetrics } from "@xmppkit/runtime";
import type { GatewayConfig } from "./config.js";

/** active: holds the link; standby: another instance holds the lease; asking: PostgreSQL has not answered yet. */
export type Role = "active" | "standby" | "asking";

export interface HaRole {
  readonly role: Role;
  /** Another instance holds the lease. */
  standby(): void;
  /** This instance holds the lease now. */
  active(): void;
}

/** The instance's role, and its gauge (1 when active). Without `ha`, an instance is active from the start. */
export function haRole(metrics: Pick<PrometheusMetrics, "gauge">, config: Pick<GatewayConfig, "ha">): HaRole {
  let role: Role = config.ha.enabled ? "asking" : "active";
  const gauge = metrics.gauge("gateway", "ha_active", "1 when this instance holds the lease and opens the link, 0 on a standby");
  gauge.set(role === "active" ? 1 : 0);
  return {
    get role() {
      return role;
    },
    standby() {
      role = "standby";
    },
    active() {
      role = "active";
      gauge.set(1);
    },
  };
}

/**
 * Active/standby: wait as a standby until this process holds the PostgreSQL lease for the component's
 * domain. A holder that loses it (PostgreSQL unreachable, its session ended) stops at once: another may
 * hold the lease and open the link next.
 */
export async function takeLease(
  { log, events }: { log: Logger; events: EventBus },
  config: GatewayConfig,
  signal: AbortSignal | undefined,
  { stop, onStandby }: { stop: () => Promise<void>; onStandby: () => void },
): Promise<Lease> {
  const instance = instanceName();
  let last: string | undefined; // said once, until it changes
  const lease = postgresLease({
    url: config.storage.postgres!,
    name: config.component.domain,
    pollMs: config.ha.poll_interval,
    onWaiting: ({ error }) => {
      if (!error) onStandby();
      if ((error ?? "held") === last) return;
      last = error ?? "held";
      if (error) log.warn({ instance, err: error }, "standby: cannot ask PostgreSQL for the lease; retrying");
      else log.info({ instance, component: config.component.domain }, `standby: another instance holds ${config.component.domain}; waiting for the lease`);
    },
  });
  const { waited } = await lease.acquire(signal);
  lease.onLost((reason) => {
    log.fatal({ instance, reason }, "lost the lease: closing the link so that another instance can take over");
    events.emit("gateway-lease-lost", { instance, component: config.component.domain, reason }, "gateway");
    void stop().finally(() => (process.exitCode ??= 1));
  });
  log.info({ instance, component: config.component.domain, waited }, waited ? "took over: this instance holds the lease now" : "holding the lease");
  if (waited) events.emit("gateway-takeover", { instance, component: config.component.domain }, "gateway");
  return lease;
}
