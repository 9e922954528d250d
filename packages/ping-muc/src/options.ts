// Gateway options, under Prosody's name where it has one (`ping_muc_delay`); the rest share its prefix.
import { duration, moduleOptions, z } from "@xmppkit/runtime";

export const pingMucSchema = z.strictObject({
  /** Prosody's option: seconds to wait after a trigger (reconnect, error from a room) before pinging. */
  ping_muc_delay: duration().prefault(60),
  /** Also ping a room that has been silent this long (0: never). XEP-0410 suggests 15 minutes. */
  ping_muc_interval: duration().prefault(0),
  /** How long to wait for each ping's reply. */
  ping_muc_timeout: duration().prefault(30),
  /** Pings in flight at once, over all rooms. */
  ping_muc_concurrency: z.number().int().min(1).max(1024).default(16),
  /** Spread the pings of one trigger over up to this much more time. */
  ping_muc_jitter: duration().prefault(5),
  /** Rejoin a room that no longer counts the gateway in. */
  ping_muc_rejoin: z.boolean().default(true),
  /** Prosody's reading of replies: any error or timeout means "not joined" (default: XEP-0410's reading). */
  ping_muc_prosody_compat: z.boolean().default(false),
});

export const pingMucOptions = moduleOptions(pingMucSchema);

export type PingMucGatewayOptions = z.output<typeof pingMucSchema>;
