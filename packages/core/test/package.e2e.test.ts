// The published shape of @xmppkit/core: pack the tarball, install it into an empty npm project from the
// registry, and import it from ESM and CommonJS, with types checked by tsc under NodeNext.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const pkgDir = resolve(import.meta.dirname, "..");
let dir: string;

describe("packed @xmppkit/core in an empty npm project", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "xmppkit-consumer-"));
    execFileSync("pnpm", ["pack", "--pack-destination", dir], { cwd: pkgDir, stdio: "pipe" });
    const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"))!;
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, version: "1.0.0" }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", `./${tarball}`, "typescript@5.9.3", "@types/node@20.19.43"], { cwd: dir, stdio: "pipe" });
  }, 240_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("imports from ESM", () => {
    writeFileSync(join(dir, "esm.mjs"), `import { xml, setupKit, backoffDelay } from "@xmppkit/core";\nconsole.log(typeof setupKit, xml("iq", { type: "get" }).toString(), backoffDelay(0, { jitter: 0 }));\n`);
    expect(execFileSync("node", ["esm.mjs"], { cwd: dir, encoding: "utf8" }).trim()).toBe('function <iq type="get"/> 1000');
  });

  it("requires from CommonJS", () => {
    writeFileSync(join(dir, "cjs.cjs"), `const { xml, setupKit, StanzaError } = require("@xmppkit/core");\nconsole.log(typeof setupKit, xml("message").toString(), new StanzaError("forbidden", "auth").toElement().toString());\n`);
    expect(execFileSync("node", ["cjs.cjs"], { cwd: dir, encoding: "utf8" }).trim()).toBe(
      'function <message/> <error type="auth"><forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>',
    );
  });

  it("has types for ESM and CJS consumers (and they are not any)", () => {
    const src = `import { xml, parseJid, type Kit, type ModuleDefinition } from "@xmppkit/core";
const el = xml("iq", { type: "get" });
const name: string = el.name;
const j = parseJid("a@b/c");
const local: string | undefined = j?.local;
export type K = Kit | ModuleDefinition;
// @ts-expect-error backoffDelay is not exported under this name
import { backofDelay } from "@xmppkit/core";
export { name, local, backofDelay };
`;
    writeFileSync(join(dir, "types.mts"), src);
    writeFileSync(join(dir, "types.cts"), src.replace(/^import (.*) from "@xmppkit\/core";$/gm, 'import $1 from "@xmppkit/core";'));
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "nodenext", moduleResolution: "nodenext", strict: true, noEmit: true, skipLibCheck: true, types: ["node"] }, files: ["types.mts", "types.cts"] }));
    const tsc = join(dir, "node_modules", ".bin", "tsc");
    expect(() => execFileSync(tsc, ["-p", "tsconfig.json"], { cwd: dir, encoding: "utf8", stdio: "pipe" })).not.toThrow();
    // Negative control: a wrong type must fail.
    writeFileSync(join(dir, "types.mts"), `import { xml } from "@xmppkit/core";\nconst n: number = xml("iq").name;\nexport { n };\n`);
    let out = "";
    try {
      execFileSync(tsc, ["-p", "tsconfig.json"], { cwd: dir, encoding: "utf8", stdio: "pipe" });
    } catch (err) {
      out = String((err as { stdout?: string }).stdout);
    }
    expect(out).toMatch(/types\.mts.*Type 'string' is not assignable to type 'number'/);
  });
});
