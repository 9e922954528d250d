import { ConfigError } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { clientIp, trustedProxyList } from "./http-client-ip.js";

describe("clientIp", () => {
  it("without trusted proxies, the socket's address whatever the headers say", () => {
    expect(clientIp()("127.0.0.1", "81.2.69.142")).toBe("127.0.0.1");
  });

  it("believes X-Forwarded-For only from a trusted proxy, IPv4-mapped addresses included", () => {
    const ip = clientIp(["10.0.0.0/8", "fd00::/8"]);
    expect(ip("10.1.2.3", "81.2.69.142")).toBe("81.2.69.142");
    expect(ip("::ffff:10.1.2.3", "81.2.69.142")).toBe("81.2.69.142");
    expect(ip("fd12::1", "2a02:c7c::1")).toBe("2a02:c7c::1");
    expect(ip("192.0.2.7", "81.2.69.142")).toBe("192.0.2.7");
  });

  it("walks the chain from the socket outwards and stops at the first untrusted hop", () => {
    const ip = clientIp(["10.0.0.1", "10.0.0.2"]);
    // The client wrote 1.1.1.1 itself; 81.2.69.142 is who connected to the outer proxy.
    expect(ip("10.0.0.1", "1.1.1.1, 81.2.69.142, 10.0.0.2")).toBe("81.2.69.142");
    expect(ip("10.0.0.1", ["1.1.1.1", "81.2.69.142"])).toBe("81.2.69.142");
    // Every hop trusted: the furthest one.
    expect(ip("10.0.0.1", "10.0.0.2")).toBe("10.0.0.2");
    // Garbage in the header: the last hop that was an address.
    expect(ip("10.0.0.1", "81.2.69.142, <script>")).toBe("10.0.0.1");
    expect(ip("10.0.0.1", "")).toBe("10.0.0.1");
  });

  it("proxy-addr's names stand for their ranges; hops with a port or brackets are addresses", () => {
    const ip = clientIp(["loopback", "uniquelocal"]);
    expect(ip("127.0.0.1", "10.1.1.1, 81.2.69.142:51234, 192.168.0.2")).toBe("81.2.69.142");
    expect(ip("::1", "[2a02:c7c::1]:443")).toBe("2a02:c7c::1");
    expect(ip("169.254.1.1", "81.2.69.142")).toBe("169.254.1.1"); // linklocal not listed
  });

  it("a bad entry is a ConfigError that names it", () => {
    for (const bad of ["10.0.0.0/33", "example.org", "10.0.0.0/8/1", "fd00::/129", "10.0.0.0/x"]) {
      expect(() => trustedProxyList(["127.0.0.1", bad])).toThrow(ConfigError);
    }
    expect(() => trustedProxyList(["localhost"])).toThrow(/http\.trusted_proxies\[0\]: not an IP address or CIDR: "localhost"/);
  });
});
