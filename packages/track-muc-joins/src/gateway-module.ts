// The gateway module: `modules_enabled: [track-muc-joins]` and a `track-muc-joins:` section, whose `rooms:`
// the gateway keeps a seat in.
import { defineModule } from "@xmppkit/core";
import { setupMucJoins, type MucJoins } from "./muc-joins.js";
import { trackMucJoinsOptions } from "./options.js";
import type {} from "./events.js"; // the bus events this module emits

export const gatewayModule = defineModule({
  name: "track-muc-joins",
  description: "tracks the MUC rooms the gateway's JIDs are in, and keeps configured rooms joined (Prosody's mod_track_muc_joins)",
  options: trackMucJoinsOptions,
  setup(ctx, o): MucJoins {
    const { kit, log, events, metrics } = ctx;
    // With the kit and the module's logger, the feature also says what the server does wrong (ejabberd, presence = roster).
    const joins = setupMucJoins(
      { ...kit, logger: log },
      {
        joinTimeout: o.muc_join_timeout,
        rejoinBackoff: { max: o.muc_rejoin_max_delay },
        unavailableWithout110EndsJoin: o.muc_unavailable_without_110_ends_join,
      },
    );
    const changes = metrics.counter(ctx.name, "occupancy_changes_total", "MUC occupancies started and ended, by kind", ["kind"]);
    joins.on("joined", (e) => {
      changes.inc({ kind: "joined" });
      log.info({ jid: e.jid, room: e.room, nick: e.nick, created: e.created }, "joined room");
      events.emit("muc-joined", e);
    });
    joins.on("left", (e) => {
      changes.inc({ kind: e.reason.kind });
      const level = e.reason.kind === "left" || e.reason.kind === "stream-ended" ? "info" : "warn";
      log[level]({ jid: e.jid, room: e.room, nick: e.nick, reason: e.reason }, e.reason.kind === "left" ? "left room" : `out of room: ${e.reason.kind}`);
      events.emit("muc-left", e);
    });
    joins.on("join-failed", (e) => {
      log.warn({ jid: e.jid, room: e.room, nick: e.nick, condition: e.condition, text: e.text }, "room refused the join");
      events.emit("muc-join-failed", e);
    });
    joins.on("rejoin-failed", (e) => {
      const { error, ...rest } = e;
      log.warn({ ...rest, err: error.message }, e.retryInMs === undefined ? "giving up rejoining room" : "rejoining room failed; retrying");
    });
    // The gateway's own seats, from the component's JID (a client's own JID once it is online).
    const keepRooms = () => {
      for (const r of o.rooms) joins.keep(r.room, { nick: r.nick, password: r.password });
    };
    if (kit.kind === "component" || kit.entity.jid) keepRooms();
    else kit.lifecycle.once("online", keepRooms);
    ctx.onStop(async () => {
      await joins.leaveAll({ status: "gateway shutting down" });
      joins.stop();
    });
    return joins;
  },
});
