import { packageBuild } from "../../tsup.shared.ts";

// shims: import.meta.url in the CJS build (geoip.ts resolves the bundled database with it).
export default packageBuild({ shims: true });
