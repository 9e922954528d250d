// Intake 2: `POST /reports` on the gateway's HTTP server, for web moderation tools (bearer token).
//
//   POST /reports
//   { "jid": "spammer@bad.example", "reason": "spam", "reporter": "alice@example.org",
//     "text": "…" | { "en": "…" }, "stanza_ids": [{ "by": "…", "id": "…" }],
//     "report_origin": true, "third_party": false,
//     "message": { "from": "spammer@bad.example/x", "body": "…", "id": "…", "type": "chat", "time": "2024-11-20T10:11:12Z" } }
//
//   202 { "status": "accepted", "id": "…", "withheld": [{ "audience": "third-party", "reason": "…" }] }
//                                                     stored in the outbox; delivered as soon as the link allows
//                                                     (staff always; `withheld`: audiences a limit holds it back from)
//   400 { "status": "error", "message": "…" }         the body names what is wrong (a field, a character XML forbids)
//   409 { "status": "duplicate", "id": "…" }           forwarded already inside the dedupe window (or sent again
//                                                     with the same Idempotency-Key header)
//   413 { "status": "error", "message": "…" }         the report would be larger than the XMPP server accepts
//   503 { "status": "error", "message": "…" }         the outbox could not store it (nothing was accepted), with Retry-After
import { XmppkitError, bareJid, httpError, parseJid, xml, xmlForbiddenChar, type HttpRequest, type HttpResponse, type HttpServer } from "@xmppkit/core";
import { reportElement, type ReportSpec } from "./block-report.js";
import type { AcceptedReport } from "./forward-message.js";
import { parseReport } from "./report.js";
import type { ReportForward } from "./report-forward.js";

export class BadReportBody extends XmppkitError {
  static override readonly brand = "BadReportBody";
}

const KNOWN = new Set(["jid", "reason", "reporter", "text", "lang", "stanza_ids", "report_origin", "third_party", "message"]);

function field<T>(ok: boolean, name: string, expected: string, value: T): T {
  if (!ok) throw new BadReportBody(`${name}: expected ${expected}, got ${JSON.stringify(value)?.slice(0, 80) ?? "undefined"}`);
  return value;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const optString = (v: unknown) => v === undefined || typeof v === "string";

/** Every string in `value` (at any depth) may go into XML: one that holds a forbidden character names its field. */
function checkCharacters(value: unknown, path: string): void {
  if (typeof value === "string") {
    const bad = xmlForbiddenChar(value);
    if (bad) throw new BadReportBody(`${path}: holds ${bad.char} at offset ${bad.index}, which XML forbids`);
  } else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) checkCharacters(v, `${path}[${i}]`);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) checkCharacters(v, path ? `${path}.${k}` : k);
  }
}

/** Validate a JSON report (already parsed); every problem names its field. */
export function parseHttpReport(body: unknown): AcceptedReport {
  if (!isObject(body)) throw new BadReportBody(`expected a JSON object like {"jid": "spammer@bad.example", "reason": "spam"}`);
  checkCharacters(body, "");
  const unknown = Object.keys(body).filter((k) => !KNOWN.has(k));
  if (unknown.length) throw new BadReportBody(`unknown field${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`);
  const jid = field(typeof body.jid === "string" && !!parseJid(body.jid), "jid", "the reported JID", body.jid) as string;
  const reason = field(typeof body.reason === "string" && body.reason !== "", "reason", '"spam", "abuse" or a reason URI', body.reason) as string;
  const reporter =
    body.reporter === undefined
      ? undefined
      : (field(typeof body.reporter === "string" && !!parseJid(body.reporter), "reporter", "the reporter's JID", body.reporter) as string);
  const text = body.text;
  field(optString(text) || (isObject(text) && Object.values(text).every((t) => typeof t === "string")), "text", 'a string or {"lang": "text"}', text);
  field(optString(body.lang), "lang", "a language tag", body.lang);
  const ids = body.stanza_ids ?? [];
  field(
    Array.isArray(ids) && ids.every((s) => isObject(s) && typeof s.id === "string" && typeof s.by === "string" && !!parseJid(s.by)),
    "stanza_ids",
    '[{"by": JID, "id": string}]',
    ids,
  );
  for (const flag of ["report_origin", "third_party"] as const)
    field(body[flag] === undefined || typeof body[flag] === "boolean", flag, "true or false", body[flag]);

  const spec: ReportSpec = {
    jid,
    reason,
    text: text as ReportSpec["text"],
    lang: body.lang as string | undefined,
    stanzaIds: ids as ReportSpec["stanzaIds"],
    reportOrigin: body.report_origin === true,
    thirdParty: body.third_party === true,
  };
  const element = reportElement(spec);
  const parsed = parseReport(element, jid);
  let forwarded: AcceptedReport["forwarded"];
  if (body.message !== undefined) {
    const m = body.message;
    field(isObject(m) && typeof m.body === "string", "message", '{"body": string, "from"?, "id"?, "type"?, "time"?}', m);
    const msg = m as Record<string, unknown>;
    for (const k of ["from", "id", "type", "time"]) field(optString(msg[k]), `message.${k}`, "a string", msg[k]);
    const from = (msg.from as string | undefined) ?? jid;
    field(!!parseJid(from), "message.from", "a JID", from);
    const stamp = msg.time === undefined ? undefined : new Date(msg.time as string);
    if (stamp && Number.isNaN(stamp.getTime())) field(false, "message.time", "an ISO 8601 date", msg.time);
    const attrs: Record<string, string> = { xmlns: "jabber:client", from, type: (msg.type as string | undefined) ?? "chat" };
    if (msg.id) attrs.id = msg.id as string;
    if (reporter) attrs.to = reporter;
    forwarded = { message: xml("message", attrs, xml("body", {}, msg.body as string)), ...(stamp ? { stamp } : {}) };
  }
  return { ...parsed, element, reporter: reporter ? (bareJid(reporter) ?? reporter) : undefined, ...(forwarded ? { forwarded } : {}) };
}

export interface ReportRoutesOptions {
  /** Default "/reports". */
  path?: string;
}

export function registerReportRoutes(http: HttpServer, desk: ReportForward, options: ReportRoutesOptions = {}): void {
  const path = `/${(options.path ?? "/reports").replace(/^\/+|\/+$/g, "")}`;
  http.route({ method: "POST", path, handler: (req) => submitReport(desk, req) });
}

/** The JSON is parsed here, so a malformed body gets as clear a 400 as a wrong field. */
function readReport(body: string): AcceptedReport {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new BadReportBody(body.trim() ? `the body is not valid JSON (${(err as Error).message})` : "the body is empty; expected a JSON report");
  }
  return parseHttpReport(json);
}

async function submitReport(desk: ReportForward, req: HttpRequest): Promise<HttpResponse> {
  let report: AcceptedReport;
  try {
    report = readReport(req.body);
  } catch (err) {
    if (!(err instanceof BadReportBody) && (err as Error).name !== "ReportParseError" && !(err instanceof TypeError)) throw err;
    desk.emit("rejected", { via: "http", source: req.ip, reason: "malformed", error: (err as Error).message });
    return httpError(400, (err as Error).message);
  }
  // A client that timed out and sends the same report again names it with the same Idempotency-Key: the
  // second is a duplicate (409), not a second report.
  const key = req.headers["idempotency-key"];
  const messageId = typeof key === "string" && key.length > 0 && key.length <= 200 ? key : undefined;
  const result = await desk.submit(report, { via: "http", source: req.ip, ...(messageId ? { messageId } : {}) });
  const id = { id: result.id };
  switch (result.status) {
    case "accepted":
      try {
        await result.stored;
      } catch {
        return { ...httpError(503, "the report could not be stored; nothing was accepted, try again", id), headers: { "retry-after": "5" } };
      }
      return { status: 202, body: { status: "accepted", id: result.id, ...(result.withheld.length ? { withheld: result.withheld } : {}) } };
    case "invalid":
      return httpError(400, result.error, id);
    case "too-large":
      return httpError(413, result.error, id);
    default:
      return { status: 409, body: { status: "duplicate", id: result.id, message: result.error } };
  }
}
