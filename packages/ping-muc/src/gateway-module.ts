// The gateway module: `modules_enabled: [track-muc-joins, ping-muc]` plus a `ping-muc:` section.
import { defineModule } from "@xmppkit/core";
import { gatewayModule as trackMucJoins } from "@xmppkit/track-muc-joins/gateway";
import { pingMucOptions } from "./options.js";
import { setupPingMuc, type PingMuc } from "./ping-muc.js";
import type {} from "./events.js"; // the bus events this module emits

export const gatewayModule = defineModule({
  name: "ping-muc",
  description: "XEP-0410 self-pings the gateway's rooms after a reconnect or an error, and rejoins where it became a ghost (Prosody's mod_ping_muc)",
  options: pingMucOptions,
  requires: { modules: [trackMucJoins] },
  setup(ctx, o): PingMuc {
    const { kit, log, events, metrics } = ctx;
    const joins = ctx.module(trackMucJoins);
    const ping = setupPingMuc(
      { ...kit, joins },
      {
        delay: o.ping_muc_delay,
        interval: o.ping_muc_interval,
        timeout: o.ping_muc_timeout,
        concurrency: o.ping_muc_concurrency,
        jitter: o.ping_muc_jitter,
        rejoin: o.ping_muc_rejoin,
        prosodyCompat: o.ping_muc_prosody_compat,
      },
    );
    const pings = metrics.counter(ctx.name, "self_pings_total", "MUC self-pings by verdict and trigger", ["verdict", "trigger"]);
    const ghosts = metrics.counter(ctx.name, "ghosts_total", "Rooms found to have dropped the gateway", []);
    const offRestored = kit.lifecycle.on("link-restored", () => {
      const rooms = joins.jids().reduce((n, jid) => n + joins.rooms(jid).size, 0);
      if (rooms) log.info({ rooms, delayMs: o.ping_muc_delay }, "link restored: self-pinging rooms after the delay");
    });
    ping.on("self-ping", (r) => {
      pings.inc({ verdict: r.stale ? "stale" : r.verdict, trigger: r.trigger });
      log.debug({ jid: r.jid, room: r.room, verdict: r.verdict, outcome: r.outcome, ms: r.ms }, "self-ping");
      events.emit("muc-self-ping", r);
    });
    ping.on("undecided", (u) => log.info({ jid: u.jid, room: u.room, outcome: u.outcome, retryInMs: u.retryInMs }, "self-ping undecided; asking again later"));
    ping.on("ghost", (g) => {
      ghosts.inc();
      log.warn({ jid: g.jid, room: g.room, nick: g.nick, reason: g.reason, rejoin: o.ping_muc_rejoin }, "the room no longer counts us in");
      events.emit("muc-ghost-detected", g);
    });
    ctx.onStop(() => {
      offRestored();
      ping.stop();
    });
    return ping;
  },
});
