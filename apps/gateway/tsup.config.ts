import { readFileSync } from "node:fs";
import { packageBuild } from "../../tsup.shared.ts";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };

// The library entry (startGateway, loadConfig) and the CLI; the version comes from package.json at build time.
// Splitting (ESM) keeps cli.js tiny: it installs the signal handlers, then loads main.js and its dependencies.
// yaml is bundled: one file instead of its 72 CommonJS modules (~20 ms less at start, bench/startup).
export default packageBuild({
  entry: ["src/index.ts", "src/cli.ts"],
  splitting: true,
  noExternal: ["yaml"],
  // yaml is CommonJS and requires node builtins; an ESM bundle needs a real `require` for them.
  esbuildOptions(options, { format }) {
    if (format === "esm")
      options.banner = {
        js: 'import { createRequire as __xmppkitCreateRequire } from "node:module"; const require = __xmppkitCreateRequire(import.meta.url);',
      };
  },
  define: { __XMPPKIT_GATEWAY_VERSION__: JSON.stringify(version) },
});
