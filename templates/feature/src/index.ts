// @xmppkit/__name__: __description__ The gateway's module definition is in "@xmppkit/__name__/gateway".
export type { __Name__BusEvent } from "./events.js"; // and the bus events it declares

export { NS_VERSION, setup__Name__, type __Name__Deps, type __Name__Events, type __Name__Handle, type __Name__Options } from "./__name__.js";
export { __Name__Error } from "./errors.js";
