// Prosody's HTTP API for roster refreshes, at the same paths with the same JSON, fixed:
//
//   POST /roster_admin/refresh            ["john","aaron"]
//   GET  /roster_admin/refresh/{username}
//   → 200 {"status":"ok"|"error","message":"…","updated":N,"errors":M}
//
// Answers come after every user is processed; `status` is "error" only when all failed; `[]` answers at once;
// duplicates count once. A body that is not a JSON array of usernames is a 400 (Prosody: 500 or a hang),
// too many usernames or bytes a 413, a missing or wrong bearer token a 401. Routes need the gateway's token
// when one is set (Prosody's module has no authentication at all).
import { XmppkitError, httpError, type HttpRequest, type HttpResponse, type HttpServer, type LinkState } from "@xmppkit/core";
import type { RosterAdmin } from "./roster-admin.js";
import { normalizeUsername } from "./username.js";

export interface RosterAdminRoutesOptions {
  /** Base path (Prosody: `http_paths = { roster_admin = "…" }`; default "/roster_admin"). */
  path?: string;
  /** Most usernames in one POST (default 10 000); more is a 413. */
  maxUsers?: number;
  /** The XMPP link: while it is down, refreshes answer 503 with Retry-After at once (nothing could be applied). */
  link?: LinkState;
  /** Called for each accepted refresh request, before it is processed (audit trail). */
  onRequest?(info: { ip: string; method: string; path: string; users: string[] }): void;
}

export class BadRefreshBody extends XmppkitError {
  static override readonly brand = "BadRefreshBody";
  constructor(
    message: string,
    readonly status: 400 | 413,
  ) {
    super(message);
  }
}

/** Validate a POST body (the raw text): a JSON array of username strings, at most `maxUsers` of them. */
export function parseRefreshBody(text: string | undefined, maxUsers: number): string[] {
  if (text === undefined || text.trim() === "") throw new BadRefreshBody('expected a JSON array of usernames, e.g. ["john","aaron"]; the body is empty', 400);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new BadRefreshBody(`the body is not valid JSON (${(err as Error).message}); expected an array of usernames`, 400);
  }
  if (!Array.isArray(body)) {
    const got = body === null ? "null" : typeof body === "object" ? "an object" : `a ${typeof body}`;
    throw new BadRefreshBody(`expected a JSON array of usernames, got ${got}`, 400);
  }
  if (body.length > maxUsers) throw new BadRefreshBody(`too many usernames: ${body.length} (at most ${maxUsers} per request)`, 413);
  const users: string[] = [];
  for (const [i, value] of body.entries()) {
    const checked = normalizeUsername(value);
    if ("error" in checked) throw new BadRefreshBody(`[${i}]: username ${checked.error}`, 400);
    users.push(checked.username);
  }
  return users;
}

export function registerRosterAdminRoutes(http: HttpServer, admin: RosterAdmin, options: RosterAdminRoutesOptions = {}): void {
  const base = `/${(options.path ?? "/roster_admin").replace(/^\/+|\/+$/g, "")}`;
  const maxUsers = options.maxUsers ?? 10_000;
  // The token comes first (the server checks it before the link): a caller without it learns nothing, not
  // even whether the link is up.
  const link = options.link ? { link: options.link } : {};

  const refresh = async (req: HttpRequest, users: string[]): Promise<HttpResponse> => {
    options.onRequest?.({ ip: req.ip, method: req.method, path: req.path, users });
    return { body: await admin.refresh(users, "http") };
  };

  http.route({
    method: "POST",
    path: `${base}/refresh`,
    ...link,
    handler: (req) => {
      let users: string[];
      try {
        users = parseRefreshBody(req.body, maxUsers);
      } catch (err) {
        if (!(err instanceof BadRefreshBody)) throw err;
        return httpError(err.status, err.message);
      }
      return refresh(req, users);
    },
  });

  http.route({
    method: "GET",
    path: `${base}/refresh/:username`,
    ...link,
    handler: (req) => {
      const checked = normalizeUsername(req.params.username);
      if ("error" in checked) return httpError(400, `username ${checked.error}`);
      return refresh({ ...req, path: `${base}/refresh/${checked.username}` }, [checked.username]);
    },
  });
}
