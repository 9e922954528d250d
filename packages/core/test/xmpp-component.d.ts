// @xmpp/component 0.13.1 ships no types and @types/xmpp__component is not on the registry.
declare module "@xmpp/component" {
  export function component(options: { service: string; domain: string; password: string }): unknown;
  export function xml(...args: unknown[]): unknown;
  export function jid(address: string): unknown;
}
