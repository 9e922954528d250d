// Closing the link for good: a graceful close of the stream, cut after a time limit, then the socket.
// https://www.rfc-editor.org/rfc/rfc6120#section-4.4
import { entitySocket, type XmppEntity } from "./entity.js";

/** xmpp.js's status setter (0.13 and 0.14), to settle on "offline" after a stop. */
interface StatusSetter {
  _status?(status: string): void;
}

/** Close the stream (waiting at most `closeMs` for the server's answer), destroy the socket, settle on "offline". */
export async function closeLink(entity: XmppEntity, closeMs: number): Promise<void> {
  if (entity.status === "online") {
    const cut = new Promise<void>((r) => setTimeout(r, closeMs).unref());
    await Promise.race([
      entity.stop().then(
        () => undefined,
        () => undefined,
      ),
      cut,
    ]);
  }
  const socket = entitySocket(entity);
  if (socket?.destroy) {
    const gone = new Promise<void>((r) => {
      const t = setTimeout(r, 1000).unref();
      entity.once("disconnect", () => {
        clearTimeout(t);
        r();
      });
    });
    socket.destroy();
    await gone;
  }
  if (entity.status !== "offline") (entity as StatusSetter)._status?.("offline");
}
