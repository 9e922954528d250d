// The caller's IP: the socket's address, or, when that address is a configured trusted proxy, what the proxies
// say in X-Forwarded-For. The chain is walked from the socket outwards and stops at the first address that is
// not a trusted proxy (proxy-addr's rule, which fastify and Express use), so a client cannot put a forged
// address in front of the ones its proxies appended.
import { BlockList, isIP } from "node:net";
import { ConfigError } from "@xmppkit/core";

export type ClientIp = (socketAddress: string, forwardedFor: string | string[] | undefined) => string;

/** An IP, or a CIDR ("10.0.0.0/8", "fd00::/8"): the address, its family and the prefix length (if any). */
function parseEntry(entry: string): { address: string; type: "ipv4" | "ipv6"; bits: number | undefined } | undefined {
  const [address = "", prefix, ...rest] = entry.trim().split("/");
  const family = isIP(address);
  if (!family || rest.length) return undefined;
  const bits = prefix === undefined ? undefined : Number(prefix);
  if (bits !== undefined && !(/^\d+$/.test(prefix!) && bits <= (family === 6 ? 128 : 32))) return undefined;
  return { address, type: family === 6 ? "ipv6" : "ipv4", bits };
}

/** Whether `entry` is a valid trusted-proxy entry (an IP or a CIDR). */
export const isIpOrCidr = (entry: string): boolean => parseEntry(entry) !== undefined;

/** Trusted proxies given as IPs or CIDRs; a ConfigError names a bad entry. */
export function trustedProxyList(entries: readonly string[], path = "http.trusted_proxies"): BlockList {
  const list = new BlockList();
  for (const [i, entry] of entries.entries()) {
    const parsed = parseEntry(entry);
    if (!parsed) {
      throw new ConfigError(`${path}[${i}]: not an IP address or CIDR: ${JSON.stringify(entry)}`, [
        { path: `${path}[${i}]`, message: "expected an IP address or a CIDR like 10.0.0.0/8" },
      ]);
    }
    if (parsed.bits === undefined) list.addAddress(parsed.address, parsed.type);
    else list.addSubnet(parsed.address, parsed.bits, parsed.type);
  }
  return list;
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
      const hop = hops[i]!.trim();
      // Not an address (garbage a proxy passed on): the last hop that was one is all we know.
      if (!isIP(hop)) return ip;
      ip = hop;
      if (!trusted(list, hop)) return ip;
    }
    return ip;
  };
}
