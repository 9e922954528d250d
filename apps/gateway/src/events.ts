// The events the gateway itself puts on the xmppkit event bus (audit-geoip records them).
declare module "@xmppkit/core" {
  interface XmppkitEvents {
    /** Active/standby: this instance waited as a standby and now holds the lease (the holder died or stopped). */
    "gateway-takeover": { instance: string; component: string };
    /** Active/standby: this instance lost the lease (PostgreSQL unreachable) and stops its link. */
    "gateway-lease-lost": { instance: string; component: string; reason: string };
  }
}

/** The names of the events the gateway puts on the bus. */
export type GatewayBusEvent = "gateway-takeover" | "gateway-lease-lost";
