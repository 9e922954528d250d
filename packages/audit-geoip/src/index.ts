export * from "./ip.js";
export * from "./geoip.js";
