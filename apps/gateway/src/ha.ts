// What the gateway is doing, as /healthz and /metrics say it: waiting for its store, asking PostgreSQL for
// the active/standby lease, standing by behind a holder, unable to ask, or holding the link. Active/standby
// (`ha:`): the instance holding the PostgreSQL lease for the component's domain opens the link; the others
// wait as standbys.
import type { EventBus, Logger } from "@xmppkit/core";
import { instanceName, postgresLease, type Lease, type PrometheusMetrics } from "@xmppkit/runtime";
import type { GatewayConfig } from "./config.js";

/**
 * waiting-store: the store (PostgreSQL) cannot be reached yet; asking: PostgreSQL has not answered the lease
 * question yet; standby: another instance holds the lease; unreachable: a standby that cannot ask
 * PostgreSQL now (nobody can tell who holds it); active: holds the lease (or needs none) and opens the link.
 */
export type Role = "waiting-store" | "asking" | "standby" | "unreachable" | "active";

const ROLES: Role[] = ["waiting-store", "asking", "standby", "unreachable", "active"];

export interface HaRole {
  readonly role: Role;
  /** Why, when it is not plain (the store's or PostgreSQL's error). */
  readonly error: string | undefined;
  waitingForStore(error: string): void;
  /** The store is open: an active/standby instance now asks for the lease. */
  storeOpen(): void;
  /** Another instance holds the lease. */
  standby(): void;
  /** PostgreSQL cannot be asked for the lease now. */
  unreachable(error: string): void;
  /** This instance holds the lease now (or needs none). */
  active(): void;
}

/**
 * The instance's role and its gauges: `gateway_ha_active` (1 when it holds the link) and `gateway_state`
 * (1 for the current state). Without `ha`, an instance is active once its store is open.
 */
export function haRole(metrics: Pick<PrometheusMetrics, "gauge">, config: Pick<GatewayConfig, "ha">): HaRole {
  let role: Role = config.ha.enabled ? "asking" : "active";
  let error: string | undefined;
  const activeGauge = metrics.gauge("gateway", "ha_active", "1 when this instance holds the lease and opens the link, 0 on a standby");
  const stateGauge = metrics.gauge("gateway", "state", "1 for what the gateway is doing: waiting-store, asking, standby, unreachable or active", ["state"]);
  const set = (next: Role, why?: string) => {
    role = next;
    error = why;
    activeGauge.set(role === "active" ? 1 : 0);
    for (const r of ROLES) stateGauge.set(r === role ? 1 : 0, { state: r });
  };
  set(role);
  return {
    get role() {
      return role;
    },
    get error() {
      return error;
    },
    waitingForStore: (why) => set("waiting-store", why),
    storeOpen: () => set(config.ha.enabled ? "asking" : "active"),
    standby: () => set("standby"),
    unreachable: (why) => set("unreachable", why),
    active: () => set("active"),
  };
}

/** /healthz while the link is not this instance's to open: what it waits for, in one line. */
export function notServingReason(ha: Pick<HaRole, "role" | "error">, component: string): { status: "waiting" | "standby"; reason: string } {
  switch (ha.role) {
    case "waiting-store":
      return { status: "waiting", reason: `waiting for PostgreSQL: ${ha.error ?? "not reachable yet"}` };
    case "asking":
      return { status: "standby", reason: "standby: asking PostgreSQL for the lease" };
    case "unreachable":
      return {
        status: "standby",
        reason: `standby: cannot reach PostgreSQL to ask for the lease (${ha.error ?? "no answer"}); nobody can tell who holds ${component}`,
      };
    default:
      return { status: "standby", reason: `standby: another instance holds ${component}` };
  }
}

/**
 * Active/standby: wait as a standby until this process holds the PostgreSQL lease for the component's
 * domain. A holder that loses it (PostgreSQL unreachable, its session ended) must close its link at once,
 * since another may hold the lease and open the link next: `onLost`.
 */
export async function takeLease(
  { log, events }: { log: Logger; events: EventBus },
  config: GatewayConfig,
  signal: AbortSignal | undefined,
  { onLost, ha }: { onLost: (reason: string) => void; ha: Pick<HaRole, "standby" | "unreachable"> },
): Promise<Lease> {
  const instance = instanceName();
  let last: string | undefined; // said once, until it changes
  const lease = postgresLease({
    url: config.storage.postgres!,
    name: config.component.domain,
    pollMs: config.ha.poll_interval,
    onWaiting: ({ error }) => {
      if (error) ha.unreachable(error);
      else ha.standby();
      if ((error ?? "held") === last) return;
      last = error ?? "held";
      if (error) log.warn({ instance, err: error }, "standby: cannot ask PostgreSQL for the lease; retrying");
      else log.info({ instance, component: config.component.domain }, `standby: another instance holds ${config.component.domain}; waiting for the lease`);
    },
  });
  const { waited } = await lease.acquire(signal);
  lease.onLost((reason) => {
    log.error({ instance, reason }, "lost the lease: closing the link so that another instance can take over; waiting as a standby");
    events.emit("gateway-lease-lost", { instance, component: config.component.domain, reason }, "gateway");
    onLost(reason);
  });
  log.info({ instance, component: config.component.domain, waited }, waited ? "took over: this instance holds the lease now" : "holding the lease");
  if (waited) events.emit("gateway-takeover", { instance, component: config.component.domain }, "gateway");
  return lease;
}
