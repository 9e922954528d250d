// GET /audit (events, newest first, keyset pages), GET /audit/summary (counts per day, country, type) and
// the page at /audit/. Data routes need the gateway's bearer token; the page holds no data.
import type { HttpResponse, HttpServer } from "@xmppkit/core";
import { parseAuditQuery } from "./audit-filter.js";
import { AuditQueryError, type AuditLog } from "./audit-log.js";
import { eventJson } from "./audit-table.js";
import { AUDIT_PAGE_HTML, AUDIT_PAGE_JS } from "./web-page.js";

const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface AuditHttpOptions {
  /** Serve the page at /audit/ (default true). */
  page?: boolean;
}

/** A bad filter is a 400 naming the field; anything else is the server's 500. */
async function answer(work: () => Promise<unknown>): Promise<HttpResponse> {
  try {
    return { body: await work() };
  } catch (err) {
    if (err instanceof AuditQueryError) return { status: 400, body: { status: "error", field: err.field, message: err.message } };
    throw err;
  }
}

export function registerAuditRoutes(http: HttpServer, audit: Pick<AuditLog, "query" | "summary">, options: AuditHttpOptions = {}): void {
  http.route({
    method: "GET",
    path: "/audit",
    handler: (req) =>
      answer(async () => {
        const page = await audit.query(parseAuditQuery(req.query));
        return { events: page.events.map(eventJson), ...(page.next ? { next: page.next } : {}) };
      }),
  });
  http.route({
    method: "GET",
    path: "/audit/summary",
    handler: (req) =>
      answer(() => {
        const { limit: _limit, cursor: _cursor, ...filter } = parseAuditQuery(req.query);
        return audit.summary(filter);
      }),
  });
  if (options.page ?? true) {
    const html = { "content-type": "text/html; charset=utf-8", "content-security-policy": PAGE_CSP, "cache-control": "no-cache" };
    const js = { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" };
    http.route({ method: "GET", path: "/audit/", auth: false, handler: () => ({ headers: html, body: AUDIT_PAGE_HTML }) });
    http.route({ method: "GET", path: "/audit/app.js", auth: false, handler: () => ({ headers: js, body: AUDIT_PAGE_JS }) });
  }
}
