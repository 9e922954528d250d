import { packageBuild } from "../../tsup.shared.ts";

// The library entry (startGateway, loadConfig) in ESM + CJS; the CLI as ESM with a shebang.
export default packageBuild({ entry: ["src/index.ts", "src/cli.ts"] });
