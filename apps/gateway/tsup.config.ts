import { readFileSync } from "node:fs";
import { packageBuild } from "../../tsup.shared.ts";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };

// The library entry (startGateway, loadConfig) and the CLI; the version comes from package.json at build time.
export default packageBuild({
  entry: ["src/index.ts", "src/cli.ts"],
  define: { __XMPPKIT_GATEWAY_VERSION__: JSON.stringify(version) },
});
