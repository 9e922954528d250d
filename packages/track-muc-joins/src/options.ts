// Gateway options. Prosody's mod_track_muc_joins has none; these belong to the join helper and rejoins.
import { duration, z } from "@xmppkit/core";

export const trackMucJoinsOptions = z.strictObject({
  /** How long a join or leave waits for the room's answer. */
  muc_join_timeout: duration().prefault(30),
  /** Longest wait between attempts to rejoin a kept room (doubling from 2 s). */
  muc_rejoin_max_delay: duration().prefault(300),
  /** An unavailable from our own occupant JID without status 110 ends the occupancy (destroyed rooms on older servers). */
  muc_unavailable_without_110_ends_join: z.boolean().default(true),
});

export type TrackMucJoinsGatewayOptions = z.output<typeof trackMucJoinsOptions>;
