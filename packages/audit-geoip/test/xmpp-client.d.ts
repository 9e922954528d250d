// @xmpp/client 0.14 ships no types; the test only needs the factory.
declare module "@xmpp/client" {
  export function client(options: { service: string; domain: string; username: string; password: string; resource?: string }): unknown;
}
