// Staff rooms: which staff JIDs are MUC rooms, keeping the desk seated in them (through track-muc-joins),
// and waiting for the seat before a report is posted. https://xmpp.org/extensions/xep-0045.html
import { IqNotRoutedError, NS_DISCO_INFO, bareJid, domainOf, parseJid, xml, type Iq, type Logger } from "@xmppkit/core";

/** The slice of track-muc-joins this needs to post into staff rooms. */
export interface StaffRoomJoins {
  keep(room: string, options: { nick: string; from?: string | undefined }): () => void;
  isJoined(room: string, jid?: string): boolean;
  on(event: "joined", fn: (e: { jid: string; room: string }) => void): unknown;
  off(event: "joined", fn: (e: { jid: string; room: string }) => void): unknown;
}

export interface StaffRooms {
  /** A staff JID is a room when its domain is a MUC service (a disco identity of category "conference"). */
  isRoom(jid: string): Promise<boolean>;
  /** Keep the desk in every staff room (called when online; a room found later is kept then). */
  keep(): Promise<void>;
  /** Resolve once the desk is in `room`; reject after the wait timeout. */
  joined(room: string): Promise<void>;
  /** Staff JIDs known to be rooms. */
  rooms(): string[];
  stop(): void;
}

/** Which staff JIDs are rooms: the configured ones at once, else one disco#info per domain (a failed one is asked again). */
function roomFinder(deps: { iq: Iq; server: string | undefined; logger: Logger }, knownRooms: string[]) {
  const { iq, server, logger: log } = deps;
  const probes = new Map<string, Promise<boolean>>();
  const knownMuc = new Map<string, boolean>();
  const known = new Set(knownRooms.map((j) => bareJid(j) ?? j));
  let toldUnroutable = false;

  function failed(jid: string, err: unknown): false {
    if (!IqNotRoutedError.isInstance(err)) {
      log.warn({ jid, err: (err as Error).message }, "could not tell whether a staff JID is a room; treating it as a user for now");
      return false;
    }
    // Asking again will not help: say once what to configure instead.
    if (!toldUnroutable)
      log.warn(
        { jid, err: err.message, fix: "list the staff JIDs that are rooms in report_forward_staff_rooms" },
        "the server does not route a disco of staff JIDs' domains: staff JIDs not listed as rooms are treated as users",
      );
    toldUnroutable = true;
    return false;
  }

  function isRoom(jid: string): Promise<boolean> {
    if (known.has(jid)) return Promise.resolve(true);
    const domain = domainOf(jid)!;
    if (!parseJid(jid)?.local || domain === server) return Promise.resolve(false); // the server's own domain hosts accounts
    let probe = probes.get(domain);
    if (!probe) {
      probe = iq
        .get(xml("query", NS_DISCO_INFO), domain, { timeout: 30_000 })
        .then((info) => {
          const muc = !!info?.getChildren("identity").some((i) => i.attrs.category === "conference");
          knownMuc.set(domain, muc);
          return muc;
        })
        .catch((err: unknown) => {
          probes.delete(domain);
          return failed(jid, err);
        });
      probes.set(domain, probe);
    }
    return probe;
  }
  /** Whether `jid` is known to be a room (configured, or its domain answered as a MUC service). */
  const knownRoom = (jid: string) => known.has(jid) || (!!parseJid(jid)?.local && !!knownMuc.get(domainOf(jid)!));
  return { isRoom, knownRoom };
}

export function createStaffRooms(
  deps: { iq: Iq; joins: () => StaffRoomJoins | undefined; server: string | undefined; logger: Logger },
  options: { staff: string[]; knownRooms?: string[]; nick: string; waitTimeoutMs: number },
): StaffRooms {
  const { logger: log } = deps;
  const { isRoom, knownRoom } = roomFinder(deps, options.knownRooms ?? []);
  const kept = new Set<string>();
  const unkeep: (() => void)[] = [];
  let stopped = false;

  async function keep() {
    for (const jid of options.staff) {
      if (!(await isRoom(jid)) || stopped) continue;
      const joins = deps.joins();
      if (!joins) {
        log.error({ room: jid }, "a staff JID is a MUC room, but track-muc-joins is not set up: reports cannot be posted there (enable track-muc-joins)");
        continue;
      }
      if (kept.has(jid)) continue;
      kept.add(jid);
      unkeep.push(joins.keep(jid, { nick: options.nick }));
    }
  }

  async function joined(room: string): Promise<void> {
    const joins = deps.joins();
    if (!joins) throw new Error("track-muc-joins is not set up");
    await keep();
    if (joins.isJoined(room)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        joins.off("joined", onJoined);
        reject(new Error(`not joined to the staff room within ${options.waitTimeoutMs} ms`));
      }, options.waitTimeoutMs);
      const onJoined = (e: { room: string }) => {
        if (e.room !== room) return;
        clearTimeout(timer);
        joins.off("joined", onJoined);
        resolve();
      };
      joins.on("joined", onJoined);
    });
  }

  return {
    isRoom,
    keep,
    joined,
    rooms: () => options.staff.filter(knownRoom),
    stop() {
      stopped = true;
      for (const f of unkeep.splice(0)) f();
    },
  };
}
