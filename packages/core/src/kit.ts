// The core handles for one xmpp.js entity, wired in a visible order (as @xmpp/client wires its plugins).
// A bot calls `setupKit(client)`; the gateway calls it for its component. Feature packages take the handles
// they need from it explicitly.
import { setupDelegation, type Delegation } from "./delegation.js";
import { watchGrants, type GrantWatch } from "./grant-watch.js";
import { setupDisco, type Disco, type Identity } from "./disco.js";
import { logListenerErrors } from "./emitter.js";
import { entityKind, trustedServerDomains, type EntityKind, type XmppEntity } from "./entity.js";
import { LinkDownError } from "./errors.js";
import { EventBus } from "./events.js";
import { setupIq, type Iq } from "./iq.js";
import { watchIqReach, type IqReach, type IqReachOptions } from "./iq-reach.js";
import { setupLifecycle, type Lifecycle, type LifecycleOptions } from "./lifecycle.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { setupPing, type Ping, type PingOptions } from "./ping.js";
import { setupPrivilege, type Privilege } from "./privilege.js";
import { setupSessions, type Sessions } from "./sessions.js";
import { setupStanzas, type Stanzas } from "./stanzas.js";
import type { WireOptions } from "./wire.js";

export interface KitOptions {
  /**
   * The server (VirtualHost) whose users the privileges cover. XEP-0356 and XEP-0355 announcements are
   * believed from it (and `serverDomains`) only. Default: a client's own domain; for a component, the domain
   * it is a subdomain of (`gateway.example.org` → `example.org`).
   */
  serverDomain?: string;
  /** More VirtualHosts of the same server whose announcements are believed. */
  serverDomains?: string[];
  /** The disco identity (default: component/generic "xmppkit" for components, none for clients). */
  identity?: Identity | null;
  lifecycle?: LifecycleOptions;
  ping?: PingOptions;
  /** The component's link check (which IQs the server routes): its timeouts. */
  reach?: Pick<IqReachOptions, "timeout" | "grace">;
  /** The outgoing stanza guard (size limit). */
  wire?: WireOptions;
  events?: EventBus;
  logger?: Logger;
  metrics?: Metrics;
}

export interface Kit {
  readonly entity: XmppEntity;
  readonly kind: EntityKind;
  readonly serverDomain: string | undefined;
  /** The server domains whose announcements are believed, and whose users this entity serves. */
  readonly serverDomains: ReadonlySet<string>;
  readonly stanzas: Stanzas;
  readonly iq: Iq;
  readonly disco: Disco;
  readonly lifecycle: Lifecycle;
  readonly ping: Ping;
  readonly privilege: Privilege;
  readonly delegation: Delegation;
  /** Local users' sessions, from presence forwarded under the XEP-0356 presence permission. */
  readonly sessions: Sessions;
  /** Whether the server still honours its XEP-0356 grants (checked at every keepalive). */
  readonly grants: GrantWatch;
  /** Which of a component's IQs the server routes (probed at every connection; a client's are all routed). */
  readonly reach: IqReach;
  readonly events: EventBus;
  /** The logger given to setupKit: features spread from the kit log (and report failing listeners) through it. */
  readonly logger: Logger | undefined;
}

/** Wire core onto an entity. Call before `start()`: the server's announcements arrive during the handshake. */
export function setupKit(entity: XmppEntity, options: KitOptions = {}): Kit {
  const kind = entityKind(entity);
  const logger = options.logger;
  const onListenerError = logListenerErrors(logger);
  const events = options.events ?? new EventBus(onListenerError);
  const stanzas = setupStanzas({ entity, logger }, options.wire);
  const iq = setupIq({ entity, stanzas, logger });
  const disco = setupDisco({ iq });
  const identity = options.identity === undefined && kind === "component" ? { category: "component", type: "generic", name: "xmppkit" } : options.identity;
  if (identity) disco.addIdentity(identity);
  const lifecycle = setupLifecycle({ entity }, { onListenerError, ...options.lifecycle });
  const serverDomains = trustedServerDomains(entity, options.serverDomain ? [options.serverDomain, ...(options.serverDomains ?? [])] : options.serverDomains);
  const serverDomain = options.serverDomain ?? (kind === "client" ? entity.options.domain : undefined);
  const reach = watchIqReach(
    { iq, lifecycle, logger, onListenerError },
    {
      ...options.reach,
      server: kind === "component" ? serverDomain : undefined,
    },
  );
  const pingTarget = kind === "component" && serverDomain ? { target: () => reach.echoTarget() } : serverDomain ? { target: serverDomain } : {};
  const ping = setupPing({ entity, iq, disco, lifecycle }, { ...pingTarget, ...options.ping });
  const privilege = setupPrivilege({ entity, stanzas, iq, logger }, { server: serverDomain, trustedServers: [...serverDomains], onListenerError });
  const delegation = setupDelegation({ stanzas, iq, disco, trustedServers: serverDomains, logger, onListenerError });
  const sessions = setupSessions({ stanzas, privilege, lifecycle, onListenerError });
  // Silence means withdrawn grants only on the server known to drop what it will not route (ejabberd 24.12).
  const serverAnswers = () => {
    const to = reach.echoTarget();
    return to && reach.state === "full-jids-only"
      ? ping.ping(to).then(
          () => true,
          () => false,
        )
      : Promise.resolve(false);
  };
  const grants = watchGrants(
    { privilege, lifecycle },
    { interval: options.ping?.interval ?? 60_000, reconnect: kind === "component", logger, ...(kind === "component" ? { serverAnswers } : {}) },
  );

  lifecycle.on("online", (p) => events.emit("link-up", p));
  lifecycle.on("link-lost", (p) => {
    events.emit("link-down", p);
    // The replies cannot come over a new stream: fail what waits for them now, not after the IQ timeout.
    if (!(entity as { streamManagement?: { enabled?: boolean } }).streamManagement?.enabled) {
      iq.rejectAll(new LinkDownError(`the link to the server dropped (${p.reason}) before the reply came`));
    }
  });
  privilege.on("granted", (p) => events.emit("permissions-granted", p));
  delegation.on("delegated", (p) => events.emit("namespaces-delegated", { server: p.server, namespaces: p.namespaces }));
  delegation.on("answered", (p) => events.emit("delegated-iq-answered", p));
  sessions.on("available", (p) => events.emit("session-available", p));
  sessions.on("unavailable", (p) => events.emit("session-unavailable", p));
  delegation.on("handler-error", ({ namespace, error }) => logger?.error({ err: error, namespace }, "delegated IQ handler failed"));
  lifecycle.on("offline", () => ping.stop());

  if (options.metrics) instrument({ stanzas, iq, lifecycle, entity }, options.metrics);

  return { entity, kind, serverDomain, serverDomains, stanzas, iq, disco, lifecycle, ping, privilege, delegation, sessions, grants, reach, events, logger };
}

function instrument({ stanzas, iq, lifecycle, entity }: { stanzas: Stanzas; iq: Iq; lifecycle: Lifecycle; entity: XmppEntity }, metrics: Metrics) {
  const stanzasIn = metrics.counter("", "stanzas_in_total", "Stanzas received, by name", ["name"]);
  const stanzasOut = metrics.counter("", "stanzas_out_total", "Stanzas sent, by name", ["name"]);
  const iqDuration = metrics.histogram(
    "",
    "iq_request_duration_seconds",
    "Round trip of IQ requests sent by xmppkit",
    ["outcome"],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  const reconnects = metrics.counter("", "reconnects_total", "Reconnect attempts to the server");
  const linkUp = metrics.gauge("", "link_up", "1 while the link to the server is up");
  entity.on("stanza", (el: { name: string }) => stanzasIn.inc({ name: el.name }));
  // An outgoing hook's return value replaces the stanza: this one returns nothing.
  stanzas.onOutgoing((el) => {
    stanzasOut.inc({ name: el.name });
  });
  iq.onLatency((ms, ok) => iqDuration.observe(ms / 1000, { outcome: ok ? "result" : "error" }));
  lifecycle.on("reconnecting", () => reconnects.inc());
  lifecycle.on("online", () => linkUp.set(1));
  lifecycle.on("link-lost", () => linkUp.set(0));
}
