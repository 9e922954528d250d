// Grants that vanish without a word. ejabberd accepts a second connection of the same component and, when
// either leaves, the other silently loses its XEP-0356 privileges and XEP-0355 delegations (and with the
// default `global_routes: true`, any component on the listener re-registers the route). Nothing is sent:
// the only sign is a privileged IQ answered `forbidden` (23.01) or not answered at all (24.12, whose
// mod_privilege drops a component's IQs to a domain it holds no grants on). So while online, the roster
// grant is checked at every keepalive: a `forbidden`, or silence while the server still answers a ping,
// means the grants were taken back, and a component rebuilds its link: the server announces them again on
// the new stream. https://xmpp.org/extensions/xep-0356.html
import { IqTimeoutError } from "./errors.js";
import type { Lifecycle } from "./lifecycle.js";
import type { Logger } from "./logger.js";
import { GRANT_CHECK_USER, hasPermission, type Privilege } from "./privilege.js";

export interface GrantWatchOptions {
  /** How often to check, in ms (the keepalive interval; 0 turns it off). */
  interval: number;
  /** Rebuild the link when the grants are gone (components: the server announces them again). */
  reconnect: boolean;
  /** Whether the server answers a round trip now (a ping of it): tells a dropped check from a slow link. */
  serverAnswers?: () => Promise<boolean>;
  logger?: Logger | undefined;
}

export interface GrantWatch {
  /** "ok" while granted (or nothing to check), "revoked" from a `forbidden` until the next announcement. */
  readonly state: "ok" | "revoked";
  stop(): void;
}

export function watchGrants({ privilege, lifecycle }: { privilege: Privilege; lifecycle: Lifecycle }, options: GrantWatchOptions): GrantWatch {
  let state: "ok" | "revoked" = "ok";
  let timer: NodeJS.Timeout | undefined;
  let checking = false;

  const offRevoked = privilege.on("revoked", ({ server, reason }) => {
    if (state === "revoked") return;
    state = "revoked";
    options.logger?.error(
      { server, reason },
      "the server withdrew the XEP-0356 grants (another connection of this component on ejabberd?); rebuilding the link to get them back",
    );
    if (options.reconnect && lifecycle.online) lifecycle.dropLink(`the server withdrew the XEP-0356 grants (${reason})`);
  });
  const offGranted = privilege.on("granted", () => {
    state = "ok";
  });

  async function check() {
    const perms = privilege.permissions();
    if (!perms || !hasPermission(perms, { access: "roster", type: "get" })) return;
    try {
      // A `forbidden` answer revokes the grants inside rosterGet (privilege's own watch).
      await privilege.rosterGet(`${GRANT_CHECK_USER}@${perms.server}`, { timeout: Math.min(options.interval, 15_000) });
    } catch (err) {
      // Only silence counts: an error reply or a dropped link says nothing about the grants.
      if (!IqTimeoutError.isInstance(err) || !options.serverAnswers) return;
      // No answer to the roster check, but an answer to a ping: the server dropped the privileged query.
      if (lifecycle.online && (await options.serverAnswers())) privilege.revoke(perms.server, "the server no longer answers privileged roster queries");
    }
  }

  function arm() {
    if (timer || options.interval <= 0) return;
    timer = setInterval(async () => {
      if (!lifecycle.online || checking) return;
      checking = true;
      await check().finally(() => (checking = false));
    }, options.interval);
    timer.unref();
  }
  const offOnline = lifecycle.on("online", arm);
  const offOffline = lifecycle.on("offline", () => {
    clearInterval(timer);
    timer = undefined;
  });
  if (lifecycle.online) arm();

  return {
    get state() {
      return state;
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
      offRevoked();
      offGranted();
      offOnline();
      offOffline();
    },
  };
}
