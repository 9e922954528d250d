// The web application's answer: a JSON object keyed by contact JID.
//
//   { "marie@example.com": { "name": "Marie", "groups": ["Friends"] },
//     "michael@example.com": { "name": "Michael", "groups": { "Friends": true, "Work": true } } }
//
// `groups` may be an array of strings or an object whose keys are the groups (Prosody's module only accepts
// the object form and breaks on arrays). Bad entries are skipped one by one with a reason; a body that is
// not an object at all fails the whole user (their roster is then left alone).
import { XmppkitError, bareJid, xmlForbiddenChar, type RosterItem } from "@xmppkit/core";
import { FORBIDDEN_LOCALPART } from "./username.js";

export interface SkippedContact {
  key: string;
  reason: string;
}

export interface WebRoster {
  items: RosterItem[];
  skipped: SkippedContact[];
}

export class WebRosterError extends XmppkitError {
  static override readonly brand = "WebRosterError";
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

const DOMAIN = /^(?:[\p{L}\p{N}](?:[\p{L}\p{N}_-]{0,62})?)(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}_-]{0,62})?)*\.?$|^\[[0-9a-fA-F:.]+\]$/u;

/** The normalised bare JID a web app meant, or a reason why it is not one. */
export function contactJid(key: string): { jid: string } | { reason: string } {
  if (key.length === 0 || key.length > 3071) return { reason: "not a JID" };
  const bad = xmlForbiddenChar(key);
  if (bad) return { reason: `not a JID (holds ${bad.char}, which XML forbids)` };
  const at = key.indexOf("@");
  const slash = key.indexOf("/");
  if (slash >= 0) return { reason: "a full JID (contacts are bare JIDs)" };
  const local = at >= 0 ? key.slice(0, at) : undefined;
  const domain = at >= 0 ? key.slice(at + 1) : key;
  if (local !== undefined && (local.length === 0 || local.length > 1023 || FORBIDDEN_LOCALPART.test(local))) {
    return { reason: "not a JID (bad local part)" };
  }
  if (!DOMAIN.test(domain) || domain.length > 1023) return { reason: "not a JID (bad domain)" };
  const jid = bareJid(key);
  return jid ? { jid } : { reason: "not a JID" };
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function groupsOf(value: unknown): string[] | string {
  if (value === undefined || value === null) return [];
  let names: unknown[];
  if (Array.isArray(value)) names = value;
  else if (typeof value === "object") names = Object.keys(value);
  else return `groups must be an array of strings or an object, got ${describe(value)}`;
  const out = new Set<string>();
  for (const g of names) {
    if (typeof g !== "string") return `groups must be strings, got ${describe(g)}`;
    const bad = xmlForbiddenChar(g);
    if (bad) return `a group name holds ${bad.char}, which XML forbids`;
    const trimmed = g.trim();
    if (trimmed) out.add(trimmed);
  }
  return [...out];
}

/** Validate a parsed JSON body. Throws WebRosterError when it is not an object of contacts. */
export function parseWebRoster(body: unknown): WebRoster {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new WebRosterError(`expected a JSON object of contacts, got ${describe(body)}`);
  }
  const items = new Map<string, RosterItem>();
  const skipped: SkippedContact[] = [];
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const parsed = contactJid(key);
    if ("reason" in parsed) {
      skipped.push({ key, reason: parsed.reason });
      continue;
    }
    if (value !== null && (typeof value !== "object" || Array.isArray(value))) {
      skipped.push({ key, reason: `expected an object, got ${describe(value)}` });
      continue;
    }
    const entry = (value ?? {}) as { name?: unknown; groups?: unknown };
    if (entry.name !== undefined && entry.name !== null && typeof entry.name !== "string") {
      skipped.push({ key, reason: `name must be a string, got ${describe(entry.name)}` });
      continue;
    }
    const badName = typeof entry.name === "string" ? xmlForbiddenChar(entry.name) : undefined;
    if (badName) {
      // One such character in a roster set makes the server drop the link, for every user, at every sync.
      skipped.push({ key, reason: `name holds ${badName.char}, which XML forbids` });
      continue;
    }
    const groups = groupsOf(entry.groups);
    if (typeof groups === "string") {
      skipped.push({ key, reason: groups });
      continue;
    }
    if (items.has(parsed.jid)) {
      skipped.push({ key, reason: `duplicate of ${parsed.jid}` });
      continue;
    }
    const item: RosterItem = { jid: parsed.jid, subscription: "both", groups };
    const name = typeof entry.name === "string" ? entry.name.trim() : "";
    if (name) item.name = name;
    items.set(parsed.jid, item);
  }
  return { items: [...items.values()], skipped };
}
