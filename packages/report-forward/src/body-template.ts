// The human-readable <body> of a forwarded report, from a template in the syntax of Prosody's
// util.interpolation, so a `report_forward_body_template` copied from a Prosody config renders the same:
//
//   {name}            the value ("" when unset)
//   {name?default}    the value, or `default` when unset
//   {name&text}       `text` when the value is set (text may hold further {…})
//   {name~text}       `text` when the value is unset
//
// Unlike the seed, the template is rendered as written: the seed joins single newlines into spaces and
// strips leading whitespace, which merged its own header into the separator line.
// A line that renders empty only because its placeholders were unset is dropped; runs of blank lines are
// collapsed to one.

export type TemplateVars = Record<string, string | undefined>;

/** The seed's default text (origin servers and third parties), with its lines kept apart. */
export const DEFAULT_BODY_TEMPLATE = `SPAM/ABUSE REPORT
-----------------

Reported JID: {reported_jid}

A user on our service has reported a message originating from the above JID on your server.

{reported_message_time&The reported message was sent at: {reported_message_time}}

-- 
This message contains also machine-readable payloads, including XEP-0377, in case you want to automate handling of these reports. You can receive these reports to a different address by setting 'report-addresses' in your server contact info configuration. For more information, see https://xmppbl.org/reports/`;

/** What the operator's own moderators read: who reported whom, why, and what may leave the server. */
export const DEFAULT_STAFF_BODY_TEMPLATE = `{reason?Abuse} report about {reported_jid}
Reported by: {reporter?not given by the source}
{text&Reporter says: {text}}
{reported_message_time&Reported message, sent {reported_message_time}:}
{reported_message_body&> {reported_message_body}}
The reporter allowed: {opt_ins?nothing beyond this server}`;

interface Placeholder {
  name: string;
  op: "" | "?" | "&" | "~";
  arg: string;
  end: number;
}

/** Read `{name…}` starting at `open` (the index of "{"); undefined when it is not a placeholder. */
function placeholderAt(template: string, open: number): Placeholder | undefined {
  const m = /^\{([A-Za-z_][\w.]*)(!?)([?&~]?)/.exec(template.slice(open, open + 200));
  if (!m) return undefined;
  let depth = 1;
  let i = open + m[0].length;
  const argStart = i;
  for (; i < template.length; i++) {
    if (template[i] === "{") depth++;
    else if (template[i] === "}" && --depth === 0) break;
  }
  if (depth !== 0) return undefined;
  return { name: m[1]!, op: m[3] as Placeholder["op"], arg: template.slice(argStart, i), end: i + 1 };
}

/** Split at newlines outside placeholders. */
function splitLines(template: string): string[] {
  const lines: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < template.length; i++) {
    const ch = template[i];
    if (ch === "{") depth++;
    else if (ch === "}" && depth > 0) depth--;
    else if (ch === "\n" && depth === 0) {
      lines.push(template.slice(start, i));
      start = i + 1;
    }
  }
  lines.push(template.slice(start));
  return lines;
}

export function renderTemplate(template: string, vars: TemplateVars): string {
  const render = (t: string): string => {
    let out = "";
    for (let i = 0; i < t.length; ) {
      const p = t[i] === "{" ? placeholderAt(t, i) : undefined;
      if (!p) {
        out += t[i];
        i++;
        continue;
      }
      const value = vars[p.name];
      const set = value !== undefined && value !== "";
      if (p.op === "") out += set ? value : "";
      else if (p.op === "?") out += set ? value : render(p.arg);
      else if (p.op === "&") out += set ? render(p.arg) : "";
      else out += set ? "" : render(p.arg);
      i = p.end;
    }
    return out;
  };
  // A line made only of placeholders that all came out empty is left out, not kept blank.
  const lines: string[] = [];
  for (const line of splitLines(template)) {
    const out = render(line);
    if (line.trim() !== "" && out.trim() === "") continue;
    lines.push(out === "-- " ? out : out.trimEnd()); // keep the signature separator
  }
  return lines
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** Check a configured template: unbalanced braces are a config error, not a silently odd body. */
export function checkTemplate(template: string): string | undefined {
  let depth = 0;
  for (const ch of template) {
    if (ch === "{") depth++;
    else if (ch === "}" && --depth < 0) return "has a } without its {";
  }
  return depth > 0 ? "has a { without its }" : undefined;
}
