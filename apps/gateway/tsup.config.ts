import { readFileSync } from "node:fs";
import { packageBuild } from "../../tsup.shared.ts";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };

// The library entry (startGateway, loadConfig) and the CLI; the version comes from package.json at build time.
// Splitting (ESM) keeps cli.js tiny: it installs the signal handlers, then loads main.js and its dependencies.
export default packageBuild({
  entry: ["src/index.ts", "src/cli.ts"],
  splitting: true,
  define: { __XMPPKIT_GATEWAY_VERSION__: JSON.stringify(version) },
});
