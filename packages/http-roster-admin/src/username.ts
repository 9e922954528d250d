// Usernames as the HTTP API and the web application see them: the local part of a user's JID on the server.
import { xmlForbiddenChar } from "@xmppkit/core";

// RFC 7622 localparts forbid these (and Prosody's nodeprep refuses them).
export const FORBIDDEN_LOCALPART = /["&'/:<>@\s]/u;

/** The normalised username (lower-cased, as the server stores it), or an error message. */
export function normalizeUsername(value: unknown): { username: string } | { error: string } {
  if (typeof value !== "string") return { error: "is not a string" };
  const u = value.normalize("NFC").toLowerCase();
  if (u.length === 0) return { error: "is empty" };
  if (Buffer.byteLength(u) > 1023) return { error: "is longer than 1023 bytes" };
  const bad = xmlForbiddenChar(u);
  if (bad) return { error: `holds ${bad.char}, which XML forbids` };
  if (FORBIDDEN_LOCALPART.test(u)) return { error: `${JSON.stringify(value)} is not a valid username (no spaces or " & ' / : < > @)` };
  return { username: u };
}
