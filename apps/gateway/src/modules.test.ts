import { defineModule, MODULE_CONTRACT, type AnyModuleDefinition } from "@xmppkit/core";
import { z } from "@xmppkit/runtime";
import { describe, expect, it } from "vitest";
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
    const err = await resolveModules(["no-such-module"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleNotInstalledError);
    expect((err as Error).message).toBe(
      'module "no-such-module" is enabled but @xmppkit/no-such-module (nor a package named no-such-module) is not installed (npm install @xmppkit/no-such-module)',
    );
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
    await expect(loadModule("@a/older", importer)).rejects.toThrow("made for module contract 0, older than this gateway's 1: upgrade the module");
    await expect(loadModule("@a/handmade", importer)).rejects.toThrow("not made with defineModule()");
    await expect(loadModule("ping-muc", importer)).rejects.toThrow('@xmppkit/ping-muc defines a module named "pong"');
  });

  it("prefers the registry; two entries defining one name are refused", async () => {
    const a = def("a");
    expect((await resolveModules(["a"], { a })).map((m) => m.def)).toEqual([a]);
    await expect(resolveModules(["a", "@x/a"], { a, "@x/a": def("a") })).rejects.toThrow('modules "a" and "@x/a" both define a module named "a"');
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

  it("reports a required module that is not enabled, and circles", () => {
    expect(() => orderModules([{ def: def("a"), requires: ["x"] }])).toThrow('module "a" requires module "x": add it to modules_enabled');
    expect(() =>
      orderModules([
        { def: def("a"), requires: ["b"] },
        { def: def("b"), requires: ["a"] },
      ]),
    ).toThrow(/circle: a → b → a/);
  });
});
