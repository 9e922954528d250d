// XEP-0082 DateTime as XMPP writes it: UTC, seconds, no fractions ("2026-11-20T10:11:12Z").
// https://xmpp.org/extensions/xep-0082.html

export function formatDateTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
