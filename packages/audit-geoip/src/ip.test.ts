import { isIP } from "node:net";
import { describe, expect, it } from "vitest";
import { isLocatable, normalizeIp, parseIpv4, truncateIp } from "./ip.js";

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

describe("parseIpv4: exactly what net.isIP calls IPv4, as a number", () => {
  it("agrees with net.isIP on edge cases and random strings", () => {
    const cases = [
      "0.0.0.0",
      "255.255.255.255",
      "1.2.3.4",
      "01.2.3.4",
      "1.2.3.04",
      "1.2.3.256",
      "1.2.3",
      "1.2.3.4.5",
      "1..3.4",
      ".1.2.3",
      "1.2.3.",
      "1.2.3.4 ",
      " 1.2.3.4",
    ];
    cases.push("1.2.3.4\n", "1.2.3.-4", "1.2.3.4a", "1000.2.3.4", "0.0.0.00", "::1", "", "١.٢.٣.٤");
    let seed = 3;
    const pick = (s: string) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return s[Math.floor((seed / 0x80000000) * s.length)]!;
    };
    for (let i = 0; i < 20_000; i++) cases.push(Array.from({ length: 7 + (i % 9) }, () => pick("0123456789.0125.")).join(""));
    for (const ip of cases) expect(parseIpv4(ip) >= 0, JSON.stringify(ip)).toBe(isIP(ip) === 4);
  });
  it("gives the address as an unsigned 32-bit number", () => {
    expect(parseIpv4("0.0.0.0")).toBe(0);
    expect(parseIpv4("81.2.69.142")).toBe(((81 << 24) >>> 0) + (2 << 16) + (69 << 8) + 142);
    expect(parseIpv4("255.255.255.255")).toBe(0xffffffff);
  });
});
