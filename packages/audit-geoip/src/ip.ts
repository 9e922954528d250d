// IP addresses in the audit log: normalised, kept whole or cut to a network prefix (mod_audit's
// audit_log_ipv4_prefix / audit_log_ipv6_prefix), and sorted into "locatable" or not. Private, loopback,
// link-local and other special-purpose addresses get no location (mod_audit raised an error on them).
import { BlockList, isIP } from "node:net";

/** Special-purpose ranges (RFC 6890 and friends) that no GeoIP database locates. */
const SPECIAL_V4: [string, number][] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
];
const special6 = new BlockList();
for (const [net, bits] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  ["2001:db8::", 32],
  ["64:ff9b:1::", 48],
] as const)
  special6.addSubnet(net, bits, "ipv6");

const v4Number = (ip: string) => ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
/** IPv4 ranges as [network, mask] numbers: a plain loop is ~5× faster than BlockList for the common case. */
const special4 = SPECIAL_V4.map(([net, bits]) => {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return [v4Number(net), mask] as const;
});

/** `::ffff:192.0.2.1` → `192.0.2.1`; a zone id is dropped; IPv6 is written in its shortest form. Undefined when not an IP. */
export function normalizeIp(value: string | undefined | null): string | undefined {
  if (!value) return undefined;
  let ip = value
    .trim()
    .replace(/^\[|\]$/g, "")
    .replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  const v = isIP(ip);
  if (v === 4) return ip;
  if (v === 6) return compressV6(expandV6(ip));
  return undefined;
}

/** Is this address one a GeoIP lookup makes sense for (a public unicast address)? */
export function isLocatable(ip: string): boolean {
  const v = isIP(ip);
  if (v === 4) {
    const n = v4Number(ip);
    return !special4.some(([net, mask]) => (n & mask) >>> 0 === net);
  }
  return v === 6 && !special6.check(ip, "ipv6");
}

function expandV6(ip: string): number[] {
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split(".").map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill("0");
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}

function compressV6(groups: number[]): string {
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i > 1) best = { start: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.len).join(":")}`;
}

/**
 * Cut an address to its network, as mod_audit's prefix options: `203.0.113.7` with 24 → `203.0.113.0/24`.
 * A family without a configured prefix is kept whole (as mod_audit).
 */
export function truncateIp(ip: string, prefix: { ipv4?: number | undefined; ipv6?: number | undefined }): string {
  const v = isIP(ip);
  if (v === 4 && prefix.ipv4 !== undefined) {
    const bits = Math.max(0, Math.min(32, prefix.ipv4));
    const n = ip.split(".").reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
    const masked = bits === 0 ? 0 : (n & (0xffffffff << (32 - bits))) >>> 0;
    return `${[24, 16, 8, 0].map((s) => (masked >>> s) & 255).join(".")}/${bits}`;
  }
  if (v === 6 && prefix.ipv6 !== undefined) {
    const bits = Math.max(0, Math.min(128, prefix.ipv6));
    const groups = expandV6(ip).map((g, i) => {
      const keep = Math.max(0, Math.min(16, bits - i * 16));
      return keep === 0 ? 0 : g & ((0xffff << (16 - keep)) & 0xffff);
    });
    return `${compressV6(groups)}/${bits}`;
  }
  return ip;
}
