// The web application's roster URL for one user: `http_roster_url` with `%s` replaced by the URL-encoded
// username. The template rules live in core (report-affiliations uses them too); these names stay for
// existing users of this package.
import { checkUrlTemplate, fillUrlTemplate } from "@xmppkit/core";

/** Check a template once, at start: an absolute http(s) URL with at least one `%s`. */
export const checkRosterUrlTemplate = (template: string): string | undefined => checkUrlTemplate(template);

/** `http_roster_url` with every `%s` replaced by `encodeURIComponent(username)` (`%%` is a literal `%`). */
export const rosterUrl = fillUrlTemplate;
