import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, defineModule, MODULE_CONTRACT, type AnyModuleDefinition } from "@xmppkit/core";
import { z } from "@xmppkit/runtime";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "./main.js";
import { dependencies, loadModule, ModuleNotInstalledError, orderModules, packageNameOf, resolveModules, type Importer } from "./modules.js";

const def = (name: string, extra: Partial<AnyModuleDefinition> = {}) =>
  defineModule({ name, description: name, options: z.strictObject({}), setup: () => undefined, ...extra });

/** An importer over a fake node_modules: specifier → module namespace; anything else is not installed. */
function packages(installed: Record<string, Record<string, unknown>>): { importer: Importer; tried: string[] } {
  const tried: string[] = [];
  const importer: Importer = async (specifier) => {
    tried.push(specifier);
    const mod = installed[specifier];
    if (mod) return mod;
    throw Object.assign(new Error(`Cannot find package '${specifier}' imported from /app/node_modules/@xmppkit/gateway/dist/index.js`), {
      code: "ERR_MODULE_NOT_FOUND",
    });
  };
  return { importer, tried };
}

describe("module loading", () => {
  it("an enabled module that is not installed names the package and the install command", async () => {
    const err = await resolveModules(["ping-muc", "no-such-module"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleNotInstalledError);
    expect(ConfigError.isInstance(err)).toBe(true);
    expect((err as Error).message).toBe(
      'modules_enabled[1]: module "no-such-module" is enabled but @xmppkit/no-such-module (nor a package named no-such-module) is not installed (npm install @xmppkit/no-such-module)',
    );
  });

  it("a module name that is a typo of one of xmppkit's says which", async () => {
    const err = (await resolveModules(["ping-muk"]).catch((e: unknown) => e)) as ConfigError;
    expect(ConfigError.isInstance(err)).toBe(true);
    expect(err.issues).toEqual([
      {
        path: "modules_enabled[0]",
        message: 'module "ping-muk" is enabled but @xmppkit/ping-muk (nor a package named ping-muk) is not installed: did you mean "ping-muc"?',
      },
    ]);
  });

  it("a short name is @xmppkit's first, a scoped name a package name", () => {
    expect(packageNameOf("ping-muc")).toBe("@xmppkit/ping-muc");
    expect(packageNameOf("@acme/xmpp-desk")).toBe("@acme/xmpp-desk");
    expect(packageNameOf("xmppkit-module-foo.v2")).toBe("xmppkit-module-foo.v2");
  });

  it("loads a package's ./gateway entry first, then its main entry, by any package name", async () => {
    const desk = def("desk");
    const hello = def("hello");
    const { importer, tried } = packages({ "@acme/xmpp-desk/gateway": { gatewayModule: desk }, "xmppkit-module-hello": { default: hello } });
    expect(await loadModule("@acme/xmpp-desk", importer)).toEqual({ entry: "@acme/xmpp-desk", packageName: "@acme/xmpp-desk", def: desk });
    expect((await loadModule("xmppkit-module-hello", importer)).def).toBe(hello);
    expect(tried).toEqual([
      "@acme/xmpp-desk/gateway",
      "@xmppkit/xmppkit-module-hello/gateway",
      "@xmppkit/xmppkit-module-hello",
      "xmppkit-module-hello/gateway",
      "xmppkit-module-hello",
    ]);
  });

  it("a package whose own import fails is not 'not installed': the real error is said", async () => {
    const importer: Importer = async (specifier) => {
      throw Object.assign(new Error(`Cannot find package '@xmppkit/runtime' imported from /app/node_modules/${specifier}/dist/gateway.js`), {
        code: "ERR_MODULE_NOT_FOUND",
      });
    };
    await expect(loadModule("@acme/xmpp-desk", importer)).rejects.toThrow(
      `module "@acme/xmpp-desk": loading @acme/xmpp-desk failed: Cannot find package '@xmppkit/runtime'`,
    );
  });

  it("checks the contract version and the name", async () => {
    const newer = { ...def("desk"), contract: MODULE_CONTRACT + 1 };
    const older = { ...def("desk"), contract: 0 };
    const handmade = { name: "desk", description: "", options: z.strictObject({}), setup: () => undefined };
    const { importer } = packages({
      "@a/newer/gateway": { default: newer },
      "@a/older/gateway": { default: older },
      "@a/handmade/gateway": { default: handmade },
      "@xmppkit/ping-muc/gateway": { gatewayModule: def("pong") },
    });
    await expect(loadModule("@a/newer", importer)).rejects.toThrow(
      `made for module contract ${MODULE_CONTRACT + 1}, newer than this gateway's ${MODULE_CONTRACT}: upgrade the gateway`,
    );
    // Each is a ConfigError at its entry (exit 3), not a plain Error (exit 1 with a stack).
    const mismatch = (await resolveModules(["a", "@a/older"], { a: def("a") }, importer).catch((e: unknown) => e)) as ConfigError;
    expect(ConfigError.isInstance(mismatch)).toBe(true);
    expect(mismatch.issues).toEqual([
      {
        path: "modules_enabled[1]",
        message: 'module "@a/older": @a/older cannot be loaded: it was made for module contract 0, older than this gateway\'s 1: upgrade the module',
      },
    ]);
    const none = (await loadModule("@a/none", packages({ "@a/none": { something: 1 } }).importer).catch((e: unknown) => e)) as ConfigError;
    expect(ConfigError.isInstance(none)).toBe(true);
    expect(none.message).toBe(
      'modules_enabled: module "@a/none": @a/none exports no gateway module definition (expected an export named gatewayModule from @a/none/gateway)',
    );
    await expect(loadModule("@a/older", importer)).rejects.toThrow("made for module contract 0, older than this gateway's 1: upgrade the module");
    await expect(loadModule("@a/handmade", importer)).rejects.toThrow("not made with defineModule()");
    await expect(loadModule("ping-muc", importer)).rejects.toThrow('@xmppkit/ping-muc defines a module named "pong"');
  });

  it("prefers the registry; two entries defining one name are refused", async () => {
    const a = def("a");
    expect((await resolveModules(["a"], { a })).map((m) => m.def)).toEqual([a]);
    const twice = (await resolveModules(["a", "@x/a"], { a, "@x/a": def("a") }).catch((e: unknown) => e)) as ConfigError;
    expect(ConfigError.isInstance(twice)).toBe(true);
    expect(twice.message).toBe('modules_enabled[1]: modules "a" and "@x/a" both define a module named "a": enable only one of them');
  });

  it("orders modules after the modules they require, and after optional ones only when enabled", () => {
    const [a, b, c] = [def("a"), def("b"), def("c")];
    const order = orderModules([
      { def: a, requires: ["b"] },
      { def: b, requires: ["c"] },
      { def: c, requires: [] },
    ]);
    expect(order.map((d) => d.def.name)).toEqual(["c", "b", "a"]);
    expect(dependencies({ modules: [c, "b"], optionalModules: [a, "x"] }, new Set(["a", "b", "c"]))).toEqual({ required: ["c", "b"], optional: ["a"] });
  });

  it("reports a required module that is not enabled, and circles, as ConfigErrors at the module's entry", () => {
    const thrown = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("expected an error");
    };
    const missing = thrown(() =>
      orderModules([
        { def: def("c"), requires: [] },
        { def: def("a"), requires: ["x"] },
      ]),
    );
    expect(ConfigError.isInstance(missing)).toBe(true);
    expect(missing.message).toBe('modules_enabled[1]: module "a" requires module "x": add it to modules_enabled');
    expect(missing.issues).toEqual([{ path: "modules_enabled[1]", message: 'module "a" requires module "x": add it to modules_enabled' }]);
    const circle = thrown(() =>
      orderModules([
        { def: def("a"), requires: ["b"] },
        { def: def("b"), requires: ["a"] },
      ]),
    );
    expect(ConfigError.isInstance(circle)).toBe(true);
    expect(circle.message).toBe("modules_enabled[0]: modules require each other in a circle: a → b → a");
  });
});

describe("a composition mistake through the CLI (main)", () => {
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-modules-test-"));
  const before = { SIGTERM: process.listeners("SIGTERM"), SIGINT: process.listeners("SIGINT"), SIGHUP: process.listeners("SIGHUP") };
  afterEach(() => {
    vi.restoreAllMocks();
    // runGateway's signal handlers: only those it added
    for (const [signal, kept] of Object.entries(before))
      for (const l of process.listeners(signal as NodeJS.Signals)) if (!kept.includes(l)) process.off(signal, l as () => void);
  });

  /** Run main() until it exits: the code and what it wrote to stderr. */
  async function exitOf(args: string[]): Promise<{ code: number | undefined; stderr: string }> {
    let stderr = "";
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    });
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const exited = new Error("process.exit");
    let code: number | undefined;
    vi.spyOn(process, "exit").mockImplementation(((c?: number) => {
      code = c;
      throw exited;
    }) as typeof process.exit);
    const thrown = await main(args).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (thrown !== exited) throw thrown;
    return { code, stderr };
  }

  it("ping-muc without track-muc-joins: exit 3, one line with the entry's path and line, no stack (--check-config and start)", async () => {
    const path = join(dir, "gateway.yaml");
    writeFileSync(
      path,
      "component:\n  service: xmpp://127.0.0.1:5347\n  domain: gw.example.org\n  secret: s\nserver_domain: example.org\nlog:\n  level: silent\nmodules_enabled: [ping-muc]\n",
    );
    const expected = `xmppkit-gateway: invalid configuration in ${path}: modules_enabled[0] (${path} line 8): module "ping-muc" requires module "track-muc-joins": add it to modules_enabled\n`;
    expect(await exitOf(["--config", path, "--check-config"])).toEqual({ code: 3, stderr: expected });
    expect(await exitOf(["--config", path])).toEqual({ code: 3, stderr: expected });
    rmSync(dir, { recursive: true, force: true });
  });
});
