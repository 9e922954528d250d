import { describe, expect, it } from "vitest";
import { hasErrorBrand, IqTimeoutError, StanzaError, XmppkitError } from "./errors.js";

class ParentError extends XmppkitError {
  static override readonly brand: string = "TestParentError";
}
class ChildError extends ParentError {
  static override readonly brand = "TestChildError";
  constructor(readonly detail: string) {
    super(`child: ${detail}`);
  }
}

describe("XmppkitError", () => {
  it("a subclass that names its brand gets name, isInstance and its parents' brands", () => {
    const err = new ChildError("x");
    expect([err.name, err.message, err.detail]).toEqual(["TestChildError", "child: x", "x"]);
    expect(ChildError.isInstance(err)).toBe(true);
    expect(ParentError.isInstance(err)).toBe(true);
    expect(XmppkitError.isInstance(err)).toBe(true);
    expect(ChildError.isInstance(new ParentError("p"))).toBe(false);
    expect(ChildError.isInstance(new Error("plain"))).toBe(false);
  });

  it("isInstance reads the brand, not the prototype chain (an error from another copy of the package)", () => {
    const fromElsewhere = Object.assign(new Error("copy"), {});
    Object.defineProperty(fromElsewhere, Symbol.for("xmppkit.error.TestChildError"), { value: true });
    expect(ChildError.isInstance(fromElsewhere)).toBe(true);
    expect(ParentError.isInstance(fromElsewhere)).toBe(false);
  });

  it("core's errors are on it", () => {
    const timeout = new IqTimeoutError("a@b", 5);
    expect([timeout.name, IqTimeoutError.isInstance(timeout), StanzaError.isInstance(timeout)]).toEqual(["IqTimeoutError", true, false]);
    expect(hasErrorBrand(new StanzaError("item-not-found"), "StanzaError")).toBe(true);
  });
});
