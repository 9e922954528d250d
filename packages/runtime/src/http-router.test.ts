import { describe, expect, it } from "vitest";
import { MalformedUrlError, Router } from "./http-router.js";

describe("Router", () => {
  const router = new Router<string>();
  router.add("GET", "/audit", "audit");
  router.add("GET", "/audit/", "page");
  router.add("GET", "/audit/app.js", "script");
  router.add("GET", "/audit/:id", "event");
  router.add("GET", "/:a/:b", "any two");
  router.add("POST", "/roster_admin/refresh/:username", "refresh one");

  it("exact paths first, then the pattern with the most fixed segments, earliest", () => {
    expect(router.find("GET", "/audit/app.js")).toEqual({ route: "script", params: {} });
    expect(router.find("GET", "/audit/")).toEqual({ route: "page", params: {} });
    expect(router.find("GET", "/audit/42")).toEqual({ route: "event", params: { id: "42" } });
    expect(router.find("GET", "/x/y")).toEqual({ route: "any two", params: { a: "x", b: "y" } });
  });

  it("no trailing-slash or method leniency, except HEAD answered by GET", () => {
    expect(router.find("GET", "/audit/42/")).toBeUndefined();
    expect(router.find("POST", "/audit")).toBeUndefined();
    expect(router.find("HEAD", "/audit")?.route).toBe("audit");
    expect(router.find("GET", "/roster_admin/refresh/")).toBeUndefined();
  });

  it("percent-decodes parameters and refuses malformed encoding", () => {
    expect(router.find("POST", "/roster_admin/refresh/zo%C3%AB")?.params).toEqual({ username: "zoë" });
    expect(router.find("POST", "/roster_admin/refresh/a%40b")?.params).toEqual({ username: "a@b" });
    expect(() => router.find("POST", "/roster_admin/refresh/%E0%A4%A")).toThrow(MalformedUrlError);
  });

  it("a path registered twice is a programming error", () => {
    expect(() => router.add("GET", "/audit", "again")).toThrow(/registered twice/);
    expect(() => router.add("GET", "/audit/:other", "again")).toThrow(/registered twice/);
    expect(() => router.add("GET", "audit", "x")).toThrow(/must start with/);
  });
});
