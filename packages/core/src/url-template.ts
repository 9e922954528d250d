// URL templates with `%s` for a value (a username), as Prosody's HTTP-backed modules take them
// (`http_roster_url`, `report_affiliations_url`). The value is URL-encoded: Prosody's modules insert it raw,
// so usernames with `%`, `?`, `#`, `+` or non-ASCII characters produce wrong URLs there.

/** Check a template once, at start: an absolute http(s) URL with at least one `%s`. */
export function checkUrlTemplate(template: string, what = "the username"): string | undefined {
  if (!template.includes("%s")) return `must contain %s where ${what} goes`;
  let url: URL;
  try {
    url = new URL(template.replaceAll("%s", "user"));
  } catch {
    return "is not an absolute URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `must be http: or https: (got ${url.protocol})`;
  return undefined;
}

/** The template with every `%s` replaced by `encodeURIComponent(value)` (`%%` is a literal `%`). */
export function fillUrlTemplate(template: string, value: string): string {
  return template.replace(/%%|%s/g, (m) => (m === "%%" ? "%" : encodeURIComponent(value)));
}
