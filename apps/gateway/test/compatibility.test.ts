// docs/compatibility.md's matrix is the suite's expectations (test/compatibility.ts), rendered: this fails
// when the document says something the tests do not assert.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { renderMatrix } from "./compatibility.js";

describe("docs/compatibility.md", () => {
  it("holds the matrix the end-to-end suite asserts, exactly", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "../../../docs/compatibility.md"), "utf8");
    const m = /<!-- matrix:start[^>]*-->\n([\s\S]*?)\n<!-- matrix:end -->/.exec(doc);
    expect(m, "the markers <!-- matrix:start --> and <!-- matrix:end --> are missing").not.toBeNull();
    expect(m![1]).toBe(renderMatrix());
  });
});
