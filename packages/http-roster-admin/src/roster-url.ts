// The web application's roster URL for one user: `http_roster_url` with `%s` replaced by the username,
// URL-encoded. Prosody's module documents the encoding but does a raw string.format, so usernames with
// `%`, `?`, `#`, `+` or non-ASCII characters produce wrong URLs there (modules-spec §6.2).

/** Check a template once, at start: an absolute http(s) URL with at least one `%s`. */
export function checkRosterUrlTemplate(template: string): string | undefined {
  if (!template.includes("%s")) return "must contain %s where the username goes";
  let url: URL;
  try {
    url = new URL(template.replaceAll("%s", "user"));
  } catch {
    return "is not an absolute URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `must be http: or https: (got ${url.protocol})`;
  return undefined;
}

/** `http_roster_url` with every `%s` replaced by `encodeURIComponent(username)` (`%%` is a literal `%`). */
export function rosterUrl(template: string, username: string): string {
  return template.replace(/%%|%s/g, (m) => (m === "%%" ? "%" : encodeURIComponent(username)));
}
