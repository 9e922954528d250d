// Which route answers a request: exact paths first, then paths with `:name` segments (the one with the most
// fixed segments, earliest, wins), one table per method. A GET route also answers HEAD.
import type { HttpMethod } from "@xmppkit/core";

export interface RouteMatch<T> {
  route: T;
  /** The `:name` segments, percent-decoded. */
  params: Record<string, string>;
}

interface PatternRoute<T> {
  route: T;
  /** Each segment: a fixed string, or `{ param }`. */
  segments: (string | { param: string })[];
  /** Orders the patterns: fixed segments weigh more the earlier they are. */
  weight: number;
  /** The path with every parameter as ":": two routes of one shape are the same route. */
  shape: string;
}

/** A segment that is not valid percent-encoding (`%zz`, a lone surrogate's bytes). */
export class MalformedUrlError extends Error {}

export class Router<T> {
  private readonly exact = new Map<string, T>();
  private readonly patterns = new Map<string, PatternRoute<T>[]>();

  add(method: HttpMethod, path: string, route: T): void {
    if (!path.startsWith("/")) throw new Error(`route path must start with "/": ${path}`);
    const segments = path.split("/").slice(1);
    if (!segments.some((s) => s.startsWith(":"))) {
      const key = `${method} ${path}`;
      if (this.exact.has(key)) throw new Error(`route ${key} is registered twice`);
      this.exact.set(key, route);
      return;
    }
    const list = this.patterns.get(method) ?? [];
    const parsed = segments.map((s) => (s.startsWith(":") ? { param: s.slice(1) } : s));
    const shape = segments.map((s) => (s.startsWith(":") ? ":" : s)).join("/");
    if (list.some((r) => r.shape === shape)) throw new Error(`route ${method} ${path} is registered twice`);
    const pattern: PatternRoute<T> = { route, segments: parsed, weight: weightOf(parsed), shape };
    list.push(pattern);
    list.sort((a, b) => b.weight - a.weight);
    this.patterns.set(method, list);
  }

  /** The route for `method` and `path` (no query string), or undefined. Throws MalformedUrlError. */
  find(method: string, path: string): RouteMatch<T> | undefined {
    const lookup = method === "HEAD" ? ["HEAD", "GET"] : [method];
    for (const m of lookup) {
      const route = this.exact.get(`${m} ${path}`);
      if (route !== undefined) return { route, params: {} };
    }
    const parts = path.split("/").slice(1);
    for (const m of lookup) {
      for (const pattern of this.patterns.get(m) ?? []) {
        const params = matchSegments(pattern.segments, parts);
        if (params) return { route: pattern.route, params };
      }
    }
    return undefined;
  }
}

function weightOf(segments: (string | { param: string })[]): number {
  let weight = 0;
  for (let i = 0; i < segments.length; i++) if (typeof segments[i] === "string") weight += 2 ** (16 - Math.min(i, 16));
  return weight;
}

function matchSegments(segments: (string | { param: string })[], parts: string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if (typeof segment === "string") {
      if (segment !== part) return undefined;
    } else {
      if (part === "") return undefined;
      params[segment.param] = decodeSegment(part);
    }
  }
  return params;
}

function decodeSegment(part: string): string {
  if (!part.includes("%")) return part;
  try {
    return decodeURIComponent(part);
  } catch {
    throw new MalformedUrlError(`malformed percent-encoding in ${JSON.stringify(part)}`);
  }
}
