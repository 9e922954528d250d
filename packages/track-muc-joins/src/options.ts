// Gateway options. Prosody's mod_track_muc_joins has none; these belong to the join helper, rejoins, and the
// rooms the gateway itself keeps a seat in.
import { duration, moduleOptions, z } from "@xmppkit/runtime";

const room = z.strictObject({
  room: z.string().regex(/^[^@/\s]+@[^@/\s]+$/, "a room address like mods@conference.example.org"),
  nick: z.string().min(1, "is empty"),
  password: z.string().optional(),
});

export const trackMucJoinsSchema = z.strictObject({
  /** How long a join or leave waits for the room's answer. */
  muc_join_timeout: duration().prefault(30),
  /** Longest wait between attempts to rejoin a kept room (doubling from 2 s). */
  muc_rejoin_max_delay: duration().prefault(300),
  /** An unavailable from our own occupant JID without status 110 ends the occupancy (destroyed rooms on older servers). */
  muc_unavailable_without_110_ends_join: z.boolean().default(true),
  /** Rooms the gateway itself sits in, kept joined (and checked by ping-muc when it is enabled). */
  rooms: z
    .array(room)
    .default([])
    .superRefine((rooms, ctx) => {
      const seen = new Set<string>();
      rooms.forEach((r, i) => {
        const k = r.room.toLowerCase();
        if (seen.has(k)) ctx.addIssue({ code: "custom", path: [i, "room"], message: `${r.room} is listed twice` });
        seen.add(k);
      });
    }),
});

export const trackMucJoinsOptions = moduleOptions(trackMucJoinsSchema);

export type TrackMucJoinsGatewayOptions = z.output<typeof trackMucJoinsSchema>;

/** The names every feature uses: setupMucJoins, mucJoinsOptions, mucJoinsSchema (the package-named ones stay). */
export const mucJoinsSchema = trackMucJoinsSchema;
export const mucJoinsOptions = trackMucJoinsOptions;
export type MucJoinsGatewayOptions = TrackMucJoinsGatewayOptions;
