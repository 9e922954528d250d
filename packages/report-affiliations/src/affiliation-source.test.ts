import { startHttpBackend, type HttpBackend } from "@xmppkit/testing";
import { afterEach, describe, expect, it } from "vitest";
import { AffiliationSourceError, affiliationFromRoles, chainSources, httpSource, parseAccountRecord, resolveInfo, staticSource } from "./affiliation-source.js";

describe("affiliations from roles (fixed precedence, XEP values only)", () => {
  it("maps Prosody's roles; guest is anonymous; the highest wins whatever the order", () => {
    expect(affiliationFromRoles(["prosody:guest"])).toBe("anonymous");
    expect(affiliationFromRoles(["prosody:user"])).toBe("registered");
    expect(affiliationFromRoles(["prosody:member", "prosody:admin"])).toBe("admin");
    expect(affiliationFromRoles(["prosody:admin", "prosody:member"])).toBe("admin");
    expect(affiliationFromRoles(["custom"])).toBeUndefined();
    expect(affiliationFromRoles(["custom"], { admin: [], member: ["custom"], registered: [], anonymous: [] })).toBe("member");
  });
});

describe("resolveInfo", () => {
  it("no record looks exactly like an account without one (no existence oracle)", () => {
    expect(resolveInfo(undefined)).toEqual({ affiliation: "registered", trust: 50 });
    expect(resolveInfo({})).toEqual(resolveInfo(undefined));
  });
  it("since and trust go with registered and anonymous only", () => {
    const since = new Date("2024-01-01T00:00:00Z");
    expect(resolveInfo({ affiliation: "admin", since, trust: 90 })).toEqual({ affiliation: "admin" });
    expect(resolveInfo({ roles: ["prosody:member"], since })).toEqual({ affiliation: "member" });
    expect(resolveInfo({ since, trust: 80 })).toEqual({ affiliation: "registered", since, trust: 80 });
    expect(resolveInfo({}, { defaultTrust: 20 })).toEqual({ affiliation: "registered", trust: 20 });
  });
  it("an anonymous host makes everyone anonymous", () => {
    expect(resolveInfo({ affiliation: "admin" }, { anonymousHost: true })).toEqual({ affiliation: "anonymous", trust: 50 });
  });
});

describe("sources", () => {
  let backend: HttpBackend | undefined;
  afterEach(async () => backend?.close());

  it("config lists, then the next source", async () => {
    const source = chainSources(staticSource({ admins: ["boss@localhost"], members: ["m@localhost/phone"] }), async (jid) =>
      jid === "x@localhost" ? { trust: 1 } : undefined,
    );
    expect(await source("boss@localhost")).toEqual({ affiliation: "admin" });
    expect(await source("m@localhost")).toEqual({ affiliation: "member" });
    expect(await source("x@localhost")).toEqual({ trust: 1 });
    expect(await source("y@localhost")).toBeUndefined();
  });

  it("the HTTP provider: %s is the URL-encoded username; 404 is no record", async () => {
    backend = await startHttpBackend((req) =>
      req.url === "/accounts/alice"
        ? { body: { affiliation: null, since: "2024-11-22T10:00:00Z", trust: 70, roles: ["prosody:user"], extra: "ignored" } }
        : req.url === "/accounts/a%2Bb"
          ? { body: { since: 1732269600 } }
          : { status: 404 },
    );
    const source = httpSource({ url: `${backend.url}/accounts/%s`, headers: { authorization: "Bearer t" } });
    expect(await source("alice@localhost")).toEqual({ since: new Date("2024-11-22T10:00:00Z"), trust: 70, roles: ["prosody:user"] });
    expect(await source("a+b@localhost")).toEqual({ since: new Date(1732269600 * 1000) });
    expect(await source("nobody@localhost")).toBeUndefined();
    expect(backend.requests[0]!.headers.authorization).toBe("Bearer t");
  });

  it("the HTTP provider's failures are errors that say what went wrong", async () => {
    backend = await startHttpBackend((req) =>
      req.url === "/a/broken"
        ? { body: "<html>" }
        : req.url === "/a/bad"
          ? { body: { affiliation: "guest" } }
          : req.url === "/a/slow"
            ? { body: {}, delayMs: 500 }
            : { status: 503 },
    );
    const source = httpSource({ url: `${backend.url}/a/%s`, timeout: 200 });
    await expect(source("broken@localhost")).rejects.toThrow(/not JSON/);
    await expect(source("bad@localhost")).rejects.toThrow(/affiliation must be/);
    await expect(source("slow@localhost")).rejects.toThrow(/timed out/);
    await expect(source("down@localhost")).rejects.toThrow(/HTTP 503/);
    await expect(source("down@localhost")).rejects.toBeInstanceOf(AffiliationSourceError);
  });

  it("refuses a URL template without %s, and bad record fields", () => {
    expect(() => httpSource({ url: "http://localhost/accounts" })).toThrow(/%s/);
    expect(() => parseAccountRecord([])).toThrow(/JSON object/);
    expect(() => parseAccountRecord({ since: "soon" })).toThrow(/since/);
    expect(() => parseAccountRecord({ trust: 101 })).toThrow(/trust/);
    expect(() => parseAccountRecord({ roles: "admin" })).toThrow(/roles/);
  });
});
