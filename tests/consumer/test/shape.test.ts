// Every feature package has the template's shape, and the template itself makes a package that compiles and
// passes its own tests. templates/feature is where a new feature starts (scripts/new-feature.mjs).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error a plain .mjs script of the repository, without types
import { newFeature } from "../../../scripts/new-feature.mjs";
import { ROOT } from "./readme-snippets.js";

const FEATURES = ["audit-geoip", "http-roster-admin", "ping-muc", "report-affiliations", "report-forward", "track-muc-joins"];
/** Files every feature package has (besides src/<concept>.ts files and their tests). */
const SHAPE = [
  "README.md",
  "LICENSE",
  "package.json",
  "tsconfig.json",
  "tsup.config.ts",
  "vitest.config.ts",
  "src/index.ts",
  "src/options.ts",
  "src/events.ts",
  "src/gateway.ts",
  "src/gateway-module.ts",
  "src/gateway-module.test.ts",
];

describe("the shape of a feature package", () => {
  it("the feature packages are the packages with a ./gateway entry", () => {
    const withGateway = readdirSync(join(ROOT, "packages")).filter((p) => {
      const pkg = join(ROOT, "packages", p, "package.json");
      return existsSync(pkg) && "./gateway" in ((JSON.parse(readFileSync(pkg, "utf8")) as { exports?: object }).exports ?? {});
    });
    expect(withGateway.sort()).toEqual(FEATURES);
  });

  it.each(FEATURES)("%s has the template's files, an e2e test, and setup<Feature> with <feature>Options and <feature>Schema", (name) => {
    const dir = join(ROOT, "packages", name);
    expect(SHAPE.filter((f) => !existsSync(join(dir, f)))).toEqual([]);
    // e2e against real servers: in the package, or (for a feature that needs the gateway's store or HTTP) beside the gateway's
    const own = existsSync(join(dir, "test")) && readdirSync(join(dir, "test")).some((f) => f.endsWith(".e2e.test.ts"));
    expect(own || existsSync(join(ROOT, "apps/gateway/test", `${name}.e2e.test.ts`)), "an e2e test").toBe(true);
    const feature = /\bsetup([A-Z]\w+)/.exec(readFileSync(join(dir, "src/index.ts"), "utf8"))?.[1];
    expect(feature, "the setup function").toBeDefined();
    const camel = feature![0]!.toLowerCase() + feature!.slice(1);
    const gateway = readFileSync(join(dir, "src/gateway.ts"), "utf8");
    expect(gateway).toContain(`${camel}Options,`);
    expect(gateway).toContain(`${camel}Schema,`);
  });

  it.each(FEATURES)("%s's feature entry loads neither the runtime nor the gateway module", (name) => {
    const index = readFileSync(join(ROOT, "packages", name, "src/index.ts"), "utf8");
    expect(index).not.toMatch(/@xmppkit\/runtime|gateway-module|\.\/options\.js/);
  });
});

describe("errors", () => {
  it("every class on XmppkitError names its own brand, the class's name (else it would pass for its parent)", () => {
    const files = execFileSync(
      "grep",
      [
        "-rlE",
        "extends (XmppkitError|StanzaError|[A-Z]\\w*Error) \\{",
        "packages",
        "apps/gateway/src",
        "--include=*.ts",
        "--exclude=*.test.ts",
        "--exclude-dir=node_modules",
        "--exclude-dir=dist",
      ],
      {
        cwd: ROOT,
        encoding: "utf8",
      },
    )
      .trim()
      .split("\n");
    const missing: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const m of text.matchAll(/class (\w+) extends (\w+) \{\n([\s\S]*?)\n\}/g)) {
        const [, name, parent, body] = m;
        if (parent === "Error" || !/Error$/.test(parent!)) continue;
        if (!body!.includes(`static override readonly brand = "${name}"`) && !body!.includes(`static override readonly brand: string = "${name}"`))
          missing.push(`${file}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe("templates/feature", () => {
  // Made inside a feature package, so that it resolves the same dependencies (xmpp.js, the workspace's core).
  const dest = join(ROOT, "packages/ping-muc/.template-check");
  afterAll(() => rmSync(dest, { recursive: true, force: true }));

  it("makes a package with every name filled in", () => {
    rmSync(dest, { recursive: true, force: true });
    newFeature("hello-check", { description: "Says hello.", dest });
    const files = execFileSync("find", [dest, "-type", "f"], { encoding: "utf8" });
    expect(files).not.toMatch(/__(name|Name|camel|snake|description)__/);
    expect(spawnSync("grep", ["-rlE", "__(name|Name|camel|snake|description)__", dest], { encoding: "utf8" }).stdout).toBe("");
  });

  it("its sources type-check under the repository's settings (its tsconfig, extending the base from here)", () => {
    writeFileSync(
      join(dest, "tsconfig.json"),
      JSON.stringify({ extends: join(ROOT, "tsconfig.base.json"), compilerOptions: { noEmit: true, rootDir: "." }, include: ["src", "test"] }),
    );
    const tsc = spawnSync(join(ROOT, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: dest, encoding: "utf8" });
    expect(tsc.stdout).toBe("");
    expect(tsc.status).toBe(0);
  });

  it("its unit tests pass", () => {
    writeFileSync(join(dest, "vitest.config.ts"), `export default { test: { include: ["src/**/*.test.ts"] } };\n`);
    const run = spawnSync(join(ROOT, "node_modules/.bin/vitest"), ["run", "--reporter=dot"], {
      cwd: dest,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Tests\s+\d+ passed/);
  });
});
