import { describe, expect, it } from "vitest";
import { cleanDetails, cleanText, detailsJson } from "./audit-event.js";

/** What the log kept before cleanDetails: details through detailsJson and back. */
const roundTrip = (d: Record<string, unknown> | undefined) => {
  const json = detailsJson(d);
  return json === undefined ? undefined : (JSON.parse(json) as Record<string, unknown>);
};

describe("cleanDetails: the same value as writing and reading the JSON", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  class Point {
    x = 1;
    toJSON() {
      return { p: this.x };
    }
  }
  it.each([
    ["flat", { method: "POST", status: 200, ok: true, none: null }],
    ["integer keys first", { b: 1, 2: "two", 1: "one" }],
    ["empty", {}],
    ["undefined values", { a: undefined, b: 1 }],
    ["non-finite and negative zero", { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, z: -0 }],
    ["nested", { a: { b: [1, "x", null] } }],
    ["dates, errors, bigints, functions", { d: new Date(0), e: new Error("boom"), n: 10n, f: () => 1 }],
    ["cycles", cyclic],
    ["toJSON", { p: new Point() }],
    ["a class instance", new Point() as unknown as Record<string, unknown>],
    ["null prototype", Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 })],
    ["an own __proto__ key", JSON.parse('{"__proto__": 1, "a": 2}') as Record<string, unknown>],
    ["lone surrogates", { s: "\ud800x" }],
  ])("%s", (_name, details) => {
    const got = cleanDetails(details);
    expect(got).toStrictEqual(roundTrip(details));
    expect(got === undefined ? undefined : JSON.stringify(got)).toBe(detailsJson(details));
  });
  it("copies: later changes by the producer do not reach it", () => {
    const d = { status: 200 };
    const got = cleanDetails(d)!;
    d.status = 500;
    expect(got).toEqual({ status: 200 });
  });
});

describe("cleanText", () => {
  const slow = (value: string, max: number) => {
    const s = value.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
    return s ? (s.length > max ? `${s.slice(0, max - 1)}…` : s) : undefined;
  };
  it.each(["alice@localhost", "a", "a b", " a", "a ", "\u00a0a", "a\u2028", "a\tb", "é ü", "x\u0000y", "", "   ", "\ufeffa", "abcdef"])(
    "%j as before",
    (value) => {
      expect(cleanText(value, 5)).toBe(slow(value, 5));
      expect(cleanText(value)).toBe(slow(value, 1000));
    },
  );
});
