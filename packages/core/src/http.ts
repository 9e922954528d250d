// The HTTP contract: modules declare routes as plain data and handlers as functions from a request to a
// response, so they run on any server. @xmppkit/runtime serves them with node:http (body limit, bearer token,
// trusted proxies); a bot can serve them from its own framework with a small adapter.

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface HttpRequest {
  readonly method: HttpMethod;
  /** The path without the query string. */
  readonly path: string;
  /** The route's `:name` segments. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * The body as text, whatever its Content-Type ("" without one): the route parses it and answers a bad one
   * with its own clear 400 (`curl -d` sends application/x-www-form-urlencoded; Prosody's modules never looked).
   */
  readonly body: string;
  /** The caller's IP (the socket's, or a trusted proxy's X-Forwarded-For). */
  readonly ip: string;
}

export interface HttpResponse {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as it is (give a content-type header), anything else as JSON. */
  body?: unknown;
}

/** What a route needs of the XMPP link (a lifecycle fits). */
export interface LinkState {
  readonly online: boolean;
  readonly downReason?: string | undefined;
}

export interface HttpRoute {
  method: HttpMethod;
  /** e.g. "/roster/refresh/:username". */
  path: string;
  /** Require `Authorization: Bearer <token>` (default true; the server decides what the token is). */
  auth?: boolean;
  /**
   * The route's work needs the XMPP link: while it is down, answer at once with 503, a Retry-After and the
   * reason, instead of failing later with a socket error or waiting out an IQ timeout.
   */
  link?: LinkState;
  handler(req: HttpRequest): HttpResponse | Promise<HttpResponse>;
}

/** Where modules register their routes. */
export interface HttpServer {
  route(route: HttpRoute): void;
}

/** The answer of a route marked `link` while the link is down. */
export function linkDownResponse(link: LinkState, retryAfterSeconds = 5): HttpResponse {
  const reason = link.downReason ?? "the link is down";
  return {
    status: 503,
    headers: { "retry-after": String(retryAfterSeconds) },
    body: { status: "error", message: `not connected to the XMPP server (${reason}); try again later`, reason },
  };
}

/** A JSON error answer: `{ status: "error", message }`. */
export function httpError(status: number, message: string, extra: Record<string, unknown> = {}): HttpResponse {
  return { status, body: { status: "error", ...extra, message } };
}
