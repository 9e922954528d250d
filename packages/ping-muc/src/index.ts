export * from "./self-ping.js";
export * from "./ghost-presence.js";
export * from "./ping-muc.js";
export * from "./options.js";
export * from "./gateway-module.js";
import "./events.js";
