// GET /audit (events, newest first, keyset pages), GET /audit/summary (counts per day, country, type) and
// the page at /audit/. Data routes need the gateway's bearer token; the page holds no data.
import type { HttpServer } from "@xmppkit/core";
import { parseAuditQuery } from "./audit-filter.js";
import { AuditQueryError, type AuditLog } from "./audit-log.js";
import { eventJson } from "./audit-table.js";
import { AUDIT_PAGE_HTML, AUDIT_PAGE_JS } from "./web-page.js";

const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface AuditHttpOptions {
  /** Serve the page at /audit/ (default true). */
  page?: boolean;
}

export function registerAuditRoutes(http: HttpServer, audit: Pick<AuditLog, "query" | "summary">, options: AuditHttpOptions = {}): void {
  const { app, requireToken } = http;
  const badRequest = (err: unknown) => (err instanceof AuditQueryError ? { status: "error", field: err.field, message: err.message } : undefined);

  app.get("/audit", { preHandler: requireToken }, async (req, reply) => {
    try {
      const page = await audit.query(parseAuditQuery((req.query ?? {}) as Record<string, unknown>));
      return reply.send({ events: page.events.map(eventJson), ...(page.next ? { next: page.next } : {}) });
    } catch (err) {
      const bad = badRequest(err);
      if (bad) return reply.status(400).send(bad);
      throw err;
    }
  });

  app.get("/audit/summary", { preHandler: requireToken }, async (req, reply) => {
    try {
      const { limit: _limit, cursor: _cursor, ...filter } = parseAuditQuery((req.query ?? {}) as Record<string, unknown>);
      return reply.send(await audit.summary(filter));
    } catch (err) {
      const bad = badRequest(err);
      if (bad) return reply.status(400).send(bad);
      throw err;
    }
  });

  if (options.page ?? true) {
    app.get("/audit/", async (_req, reply) =>
      reply.header("content-type", "text/html; charset=utf-8").header("content-security-policy", PAGE_CSP).header("cache-control", "no-cache").send(AUDIT_PAGE_HTML),
    );
    app.get("/audit/app.js", async (_req, reply) =>
      reply.header("content-type", "text/javascript; charset=utf-8").header("cache-control", "no-cache").send(AUDIT_PAGE_JS),
    );
  }
}
