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

/**
 * A dotted-quad IPv4 address as an unsigned 32-bit number, or -1 when `ip` is not one. Accepts exactly what
 * `net.isIP` calls IPv4 (four decimal octets 0–255, no leading zeros, nothing around them), in one pass over
 * the characters: the audit path parses each address once with it, instead of regexes, splits and the
 * reader's own parse.
 */
export function parseIpv4(ip: string): number {
  const len = ip.length;
  if (len < 7 || len > 15) return -1;
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < len; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      n = n * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // a leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + octet;
}

const v4Number = (ip: string) => ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
/** IPv4 ranges as [network, mask] numbers: a plain loop is ~5× faster than BlockList for the common case. */
const special4 = SPECIAL_V4.map(([net, bits]) => {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return [v4Number(net), mask] as const;
});

/** The ranges by first octet: `true` where the whole /8 is special, else the few ranges inside it (most: none). */
const byFirstOctet = Array.from({ length: 256 }, (_, octet): true | (readonly [number, number])[] => {
  const first = octet * 2 ** 24;
  const last = first + 2 ** 24 - 1;
  const inRange = (n: number, [net, mask]: readonly [number, number]) => (n & mask) >>> 0 === net;
  if (special4.some((r) => inRange(first, r) && inRange(last, r))) return true;
  return special4.filter(([net]) => net >= first && net <= last);
});

/**
 * Is this IPv4 address (as from parseIpv4) in a special-purpose range? One table lookup by the first octet,
 * then the ranges inside it: bench/audit measured the 14-range loop at ~20 % of a GeoIP lookup.
 */
export function isSpecialIpv4(n: number): boolean {
  const ranges = byFirstOctet[n >>> 24]!;
  if (ranges === true) return true;
  for (let i = 0; i < ranges.length; i++) {
    const [net, mask] = ranges[i]!;
    if ((n & mask) >>> 0 === net) return true;
  }
  return false;
}

/** `::ffff:192.0.2.1` → `192.0.2.1`; a zone id is dropped; IPv6 is written in its shortest form. Undefined when not an IP. */
export function normalizeIp(value: string | undefined | null): string | undefined {
  if (!value) return undefined;
  if (parseIpv4(value) >= 0) return value; // the common case: a plain IPv4 address is already normal
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
  const n = parseIpv4(ip);
  if (n >= 0) return !isSpecialIpv4(n);
  return isIP(ip) === 6 && !special6.check(ip, "ipv6");
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
  if (prefix.ipv4 === undefined && prefix.ipv6 === undefined) return ip;
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
