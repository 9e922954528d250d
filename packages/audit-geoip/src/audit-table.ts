// The CLI's output, laid out as `prosodyctl mod_audit`: a dash line, the header, a dash
// line, the rows (newest first, dates in local time), a dash line, "N records displayed". Event types keep
// their dashes so they can be pasted into --type.
import type { AuditEvent } from "./audit-event.js";

const pad2 = (n: number) => String(n).padStart(2, "0");

/** "2026-11-21 10:00:01" in the machine's local time, as prosodyctl prints it. */
export function localDateTime(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** The User column: the account, with the resource when the event is about one session; else the actor. */
export function whoOf(e: AuditEvent): string {
  if (e.user) return e.resource ? `${e.user}/${e.resource}` : e.user;
  return e.actor && e.actor !== e.ip ? e.actor : "";
}

export interface TableOptions {
  /** Widest a column other than Note gets (default 40). */
  maxColumn?: number;
  /** Total line width; Note is cut to fit (default: no limit). */
  width?: number;
  /** A line after the count, e.g. how to see more. */
  footer?: string;
}

export function formatAuditTable(events: AuditEvent[], options: TableOptions = {}): string {
  const max = options.maxColumn ?? 40;
  const header = ["Date", "Source", "Event", "User", "IP", "Location", "Note"];
  const rows = events.map((e) => [localDateTime(e.time), e.module, e.type, whoOf(e), e.ip ?? "", e.location?.countryCode ?? "", e.note ?? ""]);
  const widths = header.map((h, i) => (i === header.length - 1 ? 0 : Math.min(max, Math.max(h.length, ...rows.map((r) => r[i]!.length)))));
  const cut = (s: string, w: number) => (s.length > w ? `${s.slice(0, Math.max(1, w - 1))}…` : s.padEnd(w));
  const line = (cells: string[]) => {
    const fixed = cells
      .slice(0, -1)
      .map((c, i) => cut(c, widths[i]!))
      .join(" ");
    let note = cells.at(-1)!;
    if (options.width && fixed.length + 1 + note.length > options.width) note = cut(note, Math.max(8, options.width - fixed.length - 1)).trimEnd();
    return `${fixed} ${note}`.trimEnd();
  };
  const body = rows.map(line);
  const dashes = "-".repeat(Math.max(40, ...[line(header), ...body].map((l) => l.length)));
  const out = [dashes, line(header), dashes, ...body, dashes, `${events.length} record${events.length === 1 ? "" : "s"} displayed`];
  if (options.footer) out.push(options.footer);
  return `${out.join("\n")}\n`;
}

/** One event as a JSON object (one line of `--json`, one element of `GET /audit`). */
export function eventJson(e: AuditEvent): Record<string, unknown> {
  return { ...e, time: e.time.toISOString() };
}
