// The caller's IP: the socket's address, or, when that address is a configured trusted proxy, what the proxies
// say in X-Forwarded-For. The chain is walked from the socket outwards and stops at the first address that is
// not a trusted proxy (proxy-addr's rule, which fastify and Express use), so a client cannot put a forged
// address in front of the ones its proxies appended.
import { BlockList, isIP } from "node:net";
import { ConfigError } from "@xmppkit/core";

export type ClientIp = (socketAddress: string, forwardedFor: string | string[] | undefined) => string;

/** proxy-addr's names (fastify and Express took them in trusted proxies), as the ranges they stand for. */
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ["127.0.0.0/8", "::1/128"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
  uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
};

/** An IP, or a CIDR ("10.0.0.0/8", "fd00::/8"): the address, its family and the prefix length (if any). */
function parseEntry(entry: string): { address: string; type: "ipv4" | "ipv6"; bits: number | undefined } | undefined {
  const [address = "", prefix, ...rest] = entry.trim().split("/");
  const family = isIP(address);
  if (!family || rest.length) return undefined;
  const bits = prefix === undefined ? undefined : Number(prefix);
  if (bits !== undefined && !(/^\d+$/.test(prefix!) && bits <= (family === 6 ? 128 : 32))) return undefined;
  return { address, type: family === 6 ? "ipv6" : "ipv4", bits };
}

/** Whether `entry` is a valid trusted-proxy entry: an IP, a CIDR, or loopback / linklocal / uniquelocal. */
export const isIpOrCidr = (entry: string): boolean => entry.trim() in NAMED_RANGES || parseEntry(entry) !== undefined;

/** Trusted proxies given as IPs, CIDRs or proxy-addr's range names; a ConfigError names a bad entry. */
export function trustedProxyList(entries: readonly string[], path = "http.trusted_proxies"): BlockList {
  const list = new BlockList();
  for (const [i, entry] of entries.entries()) {
    const ranges = NAMED_RANGES[entry.trim()] ?? [entry];
    for (const range of ranges) {
      const parsed = parseEntry(range);
      if (!parsed) {
        throw new ConfigError(`${path}[${i}]: not an IP address or CIDR: ${JSON.stringify(entry)}`, [
          { path: `${path}[${i}]`, message: "expected an IP address, a CIDR like 10.0.0.0/8, or loopback, linklocal, uniquelocal" },
        ]);
      }
      if (parsed.bits === undefined) list.addAddress(parsed.address, parsed.type);
      else list.addSubnet(parsed.address, parsed.bits, parsed.type);
    }
  }
  return list;
}

/** A forwarded hop as an address: "1.2.3.4:5678" → "1.2.3.4", "[2001:db8::1]:443" → "2001:db8::1". */
function hopAddress(hop: string): string {
  const h = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(h);
  if (bracketed) return bracketed[1]!;
  const v4port = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(h);
  return v4port ? v4port[1]! : h;
}

function trusted(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? "ipv6" : "ipv4");
}

/** The IP of a request's caller, given the trusted proxies (none: always the socket's address). */
export function clientIp(proxies: readonly string[] = []): ClientIp {
  if (proxies.length === 0) return (socketAddress) => socketAddress;
  const list = trustedProxyList(proxies);
  return (socketAddress, forwardedFor) => {
    if (!forwardedFor || !trusted(list, socketAddress)) return socketAddress;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor).split(",");
    let ip = socketAddress;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hopAddress(hops[i]!);
      // Not an address (garbage a proxy passed on): the last hop that was one is all we know.
      if (!isIP(hop)) return ip;
      ip = hop;
      if (!trusted(list, hop)) return ip;
    }
    return ip;
  };
}
