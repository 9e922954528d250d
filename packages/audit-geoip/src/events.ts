// The events this package puts on the xmppkit event bus: none. It is the bus's reader: every module's events
// become audit events here (bus-events.ts), and its own doings are audit events, not bus events.

/** The names of the events this package puts on the bus. */
export type AuditGeoipBusEvent = never;
