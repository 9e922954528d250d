import { packageBuild } from "../../tsup.shared.ts";

// ./http-client is its own entry: node:http(s) is loaded only by the packages that make HTTP requests.
export default packageBuild({ entry: ["src/index.ts", "src/http-client.ts"] });
