// What each server does, as the end-to-end suite asserts it. The e2e tests take their per-server
// expectations from here, and docs/compatibility.md's matrix is rendered from here (compatibility.test.ts
// fails when the document says something else). One place, so the document cannot drift from the tests.

/** The servers the suite runs against (`suiteServers()` ids) and how docs/compatibility.md heads their columns. */
export const SERVER_IDS = ["prosody-0.12", "prosody-13", "ejabberd-23.01", "ejabberd-24.12"] as const;
export type ServerId = (typeof SERVER_IDS)[number];
export const COLUMN: Record<ServerId, string> = {
  "prosody-0.12": "Prosody 0.12.3",
  "prosody-13": "Prosody 13.0.1",
  "ejabberd-23.01": "ejabberd 23.01",
  "ejabberd-24.12": "ejabberd 24.12",
};

export interface Behaviour {
  /** XEP-0356 namespace of the announcement. */
  privilegeNs: "urn:xmpp:privilege:2" | "urn:xmpp:privilege:1";
  /** XEP-0355 namespace. */
  delegationNs: "urn:xmpp:delegation:2" | "urn:xmpp:delegation:1";
  /** IQs the component sends to bare JIDs and domains (24.12's mod_privilege drops them). */
  componentIqs: "routed" | "full-jids-only";
  /** Whether a XEP-0355 delegation activates (the server needs the component's disco answers). */
  delegation: "works" | "never-active";
  /** A privileged roster set (XEP-0356). */
  privilegedRosterSet: "works" | "subscription-none" | "internal-server-error";
  /** How http-roster-admin writes rosters there. */
  rosterWriter: "privilege" | "ejabberd_api";
  /** A second connection of the same component. */
  secondConnection: "refused" | "steals-grants";
  /** How report-forward knows that a staff JID is a MUC room: a disco of its service, or the config. */
  staffRooms: "found" | "listed";
  /** Whether report-affiliations can answer XEP-0489 `since` from the server (mod_xmppkit_account_info). */
  accountCreation: boolean;
  /** How users' XEP-0377 reports reach the gateway with their reporter named. */
  reportIntake: "companion" | "companion-beside-mod_report_forward" | "http-only";
  /** Where an origin's report goes: its published XEP-0157 address, or the bare domain (no disco possible). */
  originAddress: "published" | "fallback";
  /** The error a room answers to a self-ping from a JID that is not an occupant (XEP-0410). */
  ghostCondition: "not-acceptable";
  /** Deepest payload the e2e suite sends through the server (ejabberd 23.01 crashes at ~5,000). */
  deepPayload: number;
  /** Whether users' own MUC presences reach a component granted `presence: roster`. */
  forwardsUserRoomPresence: boolean;
  /** Whether the server replays the presence of online users when the component connects. */
  replaysPresence: boolean;
  /** Whether the end of a session is forwarded when a client just closes its stream. */
  sessionEndForwarded: "always" | "only-explicit-unavailable";
  /** A MUC room with occupants after a server restart. */
  roomsAfterRestart: "kept" | "gone";
  /** How the server publishes XEP-0157 contact addresses. */
  contactInfo: string;
  /** What the server answers a component with a wrong secret (or, for ejabberd, an unknown domain). */
  refusedComponent: "not-authorized";
}

const PROSODY: Behaviour = {
  privilegeNs: "urn:xmpp:privilege:2",
  delegationNs: "urn:xmpp:delegation:2",
  componentIqs: "routed",
  delegation: "works",
  staffRooms: "found",
  originAddress: "published",
  reportIntake: "companion",
  accountCreation: false,
  privilegedRosterSet: "works",
  rosterWriter: "privilege",
  secondConnection: "refused",
  ghostCondition: "not-acceptable",
  deepPayload: 8000,
  forwardsUserRoomPresence: false,
  replaysPresence: true,
  sessionEndForwarded: "always",
  roomsAfterRestart: "kept",
  contactInfo: "mod_server_contact_info (`contact_info`)",
  refusedComponent: "not-authorized",
};

const EJABBERD_23: Behaviour = {
  privilegeNs: "urn:xmpp:privilege:1",
  delegationNs: "urn:xmpp:delegation:1",
  componentIqs: "routed",
  delegation: "works",
  staffRooms: "found",
  originAddress: "published",
  reportIntake: "http-only",
  accountCreation: false,
  privilegedRosterSet: "internal-server-error",
  rosterWriter: "ejabberd_api",
  secondConnection: "steals-grants",
  ghostCondition: "not-acceptable",
  deepPayload: 3000,
  forwardsUserRoomPresence: true,
  replaysPresence: false,
  sessionEndForwarded: "only-explicit-unavailable",
  roomsAfterRestart: "gone",
  contactInfo: "mod_disco `server_info`",
  refusedComponent: "not-authorized",
};

const BY_ID: Record<ServerId, Behaviour> = {
  "prosody-0.12": PROSODY,
  "prosody-13": { ...PROSODY, accountCreation: true, reportIntake: "companion-beside-mod_report_forward" },
  "ejabberd-23.01": EJABBERD_23,
  "ejabberd-24.12": {
    ...EJABBERD_23,
    privilegeNs: "urn:xmpp:privilege:2",
    componentIqs: "full-jids-only",
    delegation: "never-active",
    privilegedRosterSet: "subscription-none",
    staffRooms: "listed",
    originAddress: "fallback",
  },
};

/** What the suite expects of a server, by its `suiteServers()` id; an id without expectations fails loudly. */
export function behaviourOf(id: string): Behaviour {
  const known = (SERVER_IDS as readonly string[]).includes(id);
  if (!known) throw new Error(`no expectations for ${id} in apps/gateway/test/compatibility.ts (known: ${SERVER_IDS.join(", ")})`);
  return BY_ID[id as ServerId];
}

/** The matrix as operators read it: feature, what each server does, and the test that asserts it. */
export const MATRIX: { feature: string; cell(b: Behaviour): string; test: string }[] = [
  { feature: "component link, ping, disco, reconnect after a restart", cell: () => "works", test: "gateway.e2e" },
  {
    feature: "IQs the component sends to bare JIDs and domains (server, rooms, remote domains)",
    cell: (b) =>
      b.componentIqs === "routed"
        ? "routed"
        : "**dropped** by mod_privilege (results too); detected at each connection and said in one warning line; refused at once instead of timing out; keepalive pings `<server>/xmppkit`",
    test: "gateway.e2e",
  },
  { feature: "XEP-0356 privileges announced", cell: (b) => `\`${b.privilegeNs}\``, test: "gateway.e2e" },
  {
    feature: "XEP-0355 delegation (XEP-0489 queries)",
    cell: (b) =>
      b.delegation === "works"
        ? `\`${b.delegationNs}\``
        : `**never active**: the server never gets the disco answers it waits for; clients get \`service-unavailable\` (ejabberd ≥ 25.03, or no mod_privilege)`,
    test: "gateway.e2e, report-affiliations.e2e",
  },
  {
    feature: "XEP-0489 `since` (when the account was made)",
    cell: (b) =>
      b.accountCreation
        ? "yes, with `mod_xmppkit_account_info` (report-affiliations' companion module)"
        : b.delegation === "works"
          ? "no: the server does not record it (from an HTTP provider only)"
          : "no (no delegation)",
    test: "report-affiliations.e2e",
  },
  {
    feature: "privileged roster set (XEP-0356)",
    cell: (b) =>
      b.privilegedRosterSet === "works"
        ? "works, with a push"
        : b.privilegedRosterSet === "subscription-none"
          ? 'works, with a push, but a new contact keeps `subscription="none"` (read back once: later syncs compare without it)'
          : '`internal-server-error` "Module failed to handle the query" (ejabberd #3942)',
    test: "gateway.e2e",
  },
  {
    feature: "http-roster-admin: add, rename, remove with pushes",
    cell: (b) =>
      b.rosterWriter === "privilege" ? "works (`http_roster_writer: privilege`)" : "works through the admin API (`http_roster_writer: ejabberd_api`)",
    test: "http-roster-admin.e2e",
  },
  {
    feature: "a second connection of the component",
    cell: (b) =>
      b.secondConnection === "refused"
        ? "refused (`conflict`)"
        : `accepted; when it leaves the first loses its grants (${b.componentIqs === "routed" ? "a roster check answers `forbidden`" : "a roster check goes unanswered while a ping is answered"}): detected at the next keepalive, link rebuilt`,
    test: "gateway.e2e",
  },
  {
    feature: "users' own MUC presences forwarded to the component",
    cell: (b) => (b.forwardsUserRoomPresence ? "yes, with `presence: roster`: ignored (only the gateway's own joins count); grant `managed_entity`" : "no"),
    test: "rooms.e2e",
  },
  { feature: "rooms kept: kick and destroy while the link was down (XEP-0410)", cell: (b) => `works (ghost: \`${b.ghostCondition}\`)`, test: "rooms.e2e" },
  {
    feature: "a room with occupants after a server restart",
    cell: (b) =>
      b.roomsAfterRestart === "kept"
        ? "the gateway is in it again (Prosody restores it)"
        : "the gateway is in it again (gone: ping-muc finds out, the gateway re-creates it)",
    test: "rooms.e2e, report-forward.e2e",
  },
  {
    feature: "reports to staff users and rooms, third parties, the origin (XEP-0157)",
    cell: (b) =>
      b.staffRooms === "found" && b.originAddress === "published"
        ? `works (origin address: ${b.contactInfo})`
        : "staff and third parties: works (staff rooms listed in `report_forward_staff_rooms`); origin: no lookup, the bare domain (ejabberd refuses it: `item-not-found`)",
    test: "report-forward.e2e",
  },
  { feature: "reports accepted during a restart, delivered after it", cell: () => "works", test: "report-forward.e2e" },
  {
    feature: "users' XEP-0377 reports with the reporter named",
    cell: (b) =>
      b.reportIntake === "companion-beside-mod_report_forward"
        ? "yes: `mod_spam_reporting` + `mod_xmppkit_report_forward` (report-forward's companion module), beside `mod_report_forward`, whose copies the gateway drops"
        : b.reportIntake === "companion"
          ? "yes: `mod_spam_reporting` (newer prosody-modules) + `mod_xmppkit_report_forward`; `mod_report_forward` does not load on 0.12"
          : "no XEP-0377 intake module: `POST /reports` (the web tool names the reporter)",
    test: "abuse-desk.e2e, report-forward's companion.e2e",
  },
  { feature: "session start forwarded (XEP-0356 presence)", cell: () => "yes", test: "audit-geoip.e2e" },
  {
    feature: "session end forwarded",
    cell: (b) => (b.sessionEndForwarded === "always" ? "yes" : "only an explicit `unavailable`, not a closed stream"),
    test: "audit-geoip.e2e",
  },
  {
    feature: "presence of online users replayed on connect",
    cell: (b) => (b.replaysPresence ? "yes" : "no (a returning user is synced at the next presence)"),
    test: "server behaviour; the gateway's answer (sync on any presence) by http-roster-admin's unit tests",
  },
  {
    feature: "hostile input (forged announcements and presence, deep payloads, bad characters)",
    cell: (b) =>
      `handled (payloads tested ${b.deepPayload.toLocaleString("en")} levels deep${b.deepPayload < 8000 ? "; ejabberd 23.01 itself crashes at ~5,000" : ""})`,
    test: "hostile.e2e",
  },
  { feature: "a wrong secret (ejabberd: also an unknown domain)", cell: (b) => `\`${b.refusedComponent}\`: exit 4, both causes named`, test: "cli.e2e" },
];

/** The markdown table of MATRIX. */
export function renderMatrix(): string {
  const rows = MATRIX.map((r) => `| ${r.feature} | ${SERVER_IDS.map((id) => r.cell(BY_ID[id])).join(" | ")} | ${r.test} |`);
  const head = `| feature | ${SERVER_IDS.map((id) => COLUMN[id]).join(" | ")} | asserted by |`;
  return [head, `|---|${SERVER_IDS.map(() => "---|").join("")}---|`, ...rows].join("\n");
}
