import { describe, expect, it } from "vitest";
import { isLocatable, normalizeIp, truncateIp } from "./ip.js";

describe("normalizeIp", () => {
  it.each([
    ["81.2.69.142", "81.2.69.142"],
    ["::ffff:81.2.69.142", "81.2.69.142"],
    ["[2001:DB8:0:0:0:0:0:1]", "2001:db8::1"],
    ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
    ["fe80::1%eth0", "fe80::1"],
    ["::", "::"],
  ])("%s → %s", (input, out) => expect(normalizeIp(input)).toBe(out));

  it("refuses what is not an IP", () => {
    for (const bad of ["", "localhost", "1.2.3", "1.2.3.4.5", "::g", undefined, null]) expect(normalizeIp(bad)).toBeUndefined();
  });
});

describe("isLocatable: private, loopback and link-local addresses get no location", () => {
  it.each([
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.1.1",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "203.0.113.7",
    "::1",
    "::",
    "fe80::1",
    "fd12:3456::1",
    "ff02::1",
    "2001:db8::1",
  ])("%s is not locatable", (ip) => expect(isLocatable(ip)).toBe(false));
  it.each(["81.2.69.142", "8.8.8.8", "172.32.0.1", "2001:4860:4860::8888"])("%s is", (ip) => expect(isLocatable(ip)).toBe(true));
});

describe("truncateIp (mod_audit's prefix options)", () => {
  it("cuts IPv4 and IPv6 to their networks", () => {
    expect(truncateIp("203.0.113.77", { ipv4: 24 })).toBe("203.0.113.0/24");
    expect(truncateIp("203.0.113.77", { ipv4: 20 })).toBe("203.0.112.0/20");
    expect(truncateIp("203.0.113.77", { ipv4: 0 })).toBe("0.0.0.0/0");
    expect(truncateIp("203.0.113.77", { ipv4: 32 })).toBe("203.0.113.77/32");
    expect(truncateIp("2001:db8:abcd:1234:5678::1", { ipv6: 48 })).toBe("2001:db8:abcd::/48");
    expect(truncateIp("2001:db8:abcd:1234:5678::1", { ipv6: 56 })).toBe("2001:db8:abcd:1200::/56");
  });
  it("keeps a family without a prefix whole, as mod_audit does", () => {
    expect(truncateIp("2001:db8::1", { ipv4: 24 })).toBe("2001:db8::1");
    expect(truncateIp("203.0.113.7", { ipv6: 48 })).toBe("203.0.113.7");
  });
});
