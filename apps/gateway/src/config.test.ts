import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { interpolateEnv, parseConfig, withLines } from "./config.js";
import { prepareModules } from "./gateway.js";

const BASE = `component:
  service: xmpp://127.0.0.1:5347
  domain: gateway.example.org
  secret: \${GATEWAY_SECRET}
server_domain: example.org
`;

function errorOf(text: string, env: NodeJS.ProcessEnv = { GATEWAY_SECRET: "s" }): ConfigError {
  try {
    parseConfig(text, { source: "gateway.yaml", env });
  } catch (err) {
    if (ConfigError.isInstance(err)) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("gateway config", () => {
  it("accepts a minimal config and fills defaults", () => {
    const { config } = parseConfig(BASE, { env: { GATEWAY_SECRET: "s3cret" } });
    expect(config.component).toEqual({
      service: "xmpp://127.0.0.1:5347",
      domain: "gateway.example.org",
      secret: "s3cret",
      keepalive_interval: 60_000,
      keepalive_timeout: 15_000,
      reconnect_max_delay: 60_000,
      stanza_size_limit: 524_288,
    });
    expect(config.http).toEqual({ listen: "127.0.0.1:5281", trusted_proxies: [], body_limit: 1048576 });
    expect(config.storage).toEqual({ data_dir: "./data" });
    expect(config.modules_enabled).toEqual([]);
  });

  it("an unknown key is an error naming the key, its line, and the key it is a typo of", () => {
    const err = errorOf(`${BASE}http:\n  listen: 127.0.0.1:5281\n  tokn: abc\n`);
    expect(err.message).toBe('invalid configuration in gateway.yaml: http.tokn (gateway.yaml line 8): unknown option (did you mean "token"?)');
    expect(err.issues).toEqual([{ path: "http.tokn", message: 'unknown option (did you mean "token"?)', line: 8 }]);
    expect(errorOf(`${BASE}storag:\n  sqlite: x\n`).message).toBe(
      'invalid configuration in gateway.yaml: storag (gateway.yaml line 6): unknown key (not a gateway section, and no module "storag" in modules_enabled): did you mean "storage"?',
    );
    expect(errorOf(`${BASE}modules_enabled: [ping-muc]\nping-muk:\n  ping_muc_delay: 5\n`).issues[0]!.message).toMatch(/: did you mean "ping-muc"\?$/);
  });

  it("several issues are one per line", () => {
    expect(errorOf(`${BASE}http:\n  tokn: abc\nstorag: {}\n`).message.split("\n")).toEqual([
      "invalid configuration in gateway.yaml:",
      '  storag (gateway.yaml line 8): unknown key (not a gateway section, and no module "storag" in modules_enabled): did you mean "storage"?',
      '  http.tokn (gateway.yaml line 7): unknown option (did you mean "token"?)',
    ]);
  });

  it("http.listen beyond loopback without http.token is refused at load, as the HTTP server would at start", () => {
    const err = errorOf(`${BASE}http:\n  listen: 0.0.0.0:5281\n`);
    expect(err.message).toBe(
      "invalid configuration in gateway.yaml: http.token (gateway.yaml line 6): is required when http.listen is not a loopback address (0.0.0.0): set http.token or listen on 127.0.0.1",
    );
    // an empty token (`${GATEWAY_HTTP_TOKEN:-}` unset) is none
    expect(errorOf(`${BASE}http:\n  listen: "[::]:5281"\n  token: \${T:-}\n`).issues.map((i) => i.path)).toEqual(["http.token"]);
    expect(errorOf(`${BASE}http:\n  listen: "5281"\n`).issues).toEqual([{ path: "http.listen", message: 'expected "host:port", got "5281"', line: 7 }]);
    const ok = parseConfig(`${BASE}http:\n  listen: 0.0.0.0:5281\n  token: 0123456789abcdef\n`, { env: { GATEWAY_SECRET: "s" } });
    expect(ok.config.http.listen).toBe("0.0.0.0:5281");
    expect(parseConfig(`${BASE}http:\n  listen: localhost:5281\n`, { env: { GATEWAY_SECRET: "s" } }).config.http.listen).toBe("localhost:5281");
  });

  it("ha.enabled without storage.postgres is refused at load (--check-config and start alike)", () => {
    expect(errorOf(`${BASE}ha:\n  enabled: true\n`).issues).toEqual([
      { path: "ha.enabled", message: "needs storage.postgres: the lease and the shared state live in PostgreSQL", line: 7 },
    ]);
  });

  it("Prosody's conveniences: a number from ${VAR:-500} is a number, one string is a list of one", () => {
    const { config } = parseConfig(
      `${BASE}http:\n  body_limit: \${BODY_LIMIT:-500}\n  trusted_proxies: 10.0.0.0/8\nmodules_enabled: track-muc-joins\ntrack-muc-joins: {}\n`,
      { env: { GATEWAY_SECRET: "s" } },
    );
    expect(config.http.body_limit).toBe(500);
    expect(config.http.trusted_proxies).toEqual(["10.0.0.0/8"]);
    expect(config.modules_enabled).toEqual(["track-muc-joins"]);
    expect(config.moduleSections).toEqual({ "track-muc-joins": {} });
    expect(
      parseConfig(BASE.replace("server_domain", "  stanza_size_limit: ${LIMIT}\nserver_domain"), { env: { GATEWAY_SECRET: "s", LIMIT: "1048576" } }).config
        .component.stanza_size_limit,
    ).toBe(1_048_576);
    expect(errorOf(`${BASE}http:\n  body_limit: \${BODY_LIMIT:-lots}\n`).message).toContain(
      'http.body_limit (gateway.yaml line 7): expected number, got a string ("lots")',
    );
  });

  it("module options: did you mean, a string for a list, a number from ${VAR}", async () => {
    const parsed = parseConfig(
      `${BASE}modules_enabled: [http-roster-admin, report-affiliations]\nhttp-roster-admin:\n  http_roster_url: http://localhost/contacts/%s\n  http_roster_retries: \${RETRIES:-5}\nreport-affiliations:\n  report_affiliations_trusted_servers: rtbl.example.org\n  report_affiliations_default_trust: \${TRUST:-75}\n`,
      { source: "gateway.yaml", env: { GATEWAY_SECRET: "s" } },
    );
    const [roster, affiliations] = await prepareModules(parsed.config, { sourceMap: parsed.sourceMap });
    expect(roster!.options).toMatchObject({ http_roster_retries: 5 });
    expect(affiliations!.options).toMatchObject({ report_affiliations_trusted_servers: ["rtbl.example.org"], report_affiliations_default_trust: 75 });

    const typo = parseConfig(
      `${BASE}modules_enabled: [http-roster-admin]\nhttp-roster-admin:\n  http_roster_url: http://localhost/contacts/%s\n  http_roster_timout: 5\n`,
      {
        source: "gateway.yaml",
        env: { GATEWAY_SECRET: "s" },
      },
    );
    const err = (await prepareModules(typo.config, { sourceMap: typo.sourceMap }).catch((e: unknown) => e)) as ConfigError;
    expect(ConfigError.isInstance(err)).toBe(true);
    expect(err.message).toBe(
      'invalid configuration in gateway.yaml: http-roster-admin.http_roster_timout (gateway.yaml line 9): unknown option (did you mean "http_roster_timeout"?)',
    );
  });

  it("a module's composition mistake is a ConfigError at its modules_enabled entry, with the line", async () => {
    const { config, sourceMap } = parseConfig(`${BASE}modules_enabled:\n  - report-forward\n  - ping-muc\n`, {
      source: "gateway.yaml",
      env: { GATEWAY_SECRET: "s" },
    });
    const err = (await prepareModules(config, { sourceMap }).catch((e: unknown) => e)) as ConfigError;
    expect(ConfigError.isInstance(err)).toBe(true);
    expect(err.issues).toEqual([{ path: "modules_enabled[1]", message: 'module "ping-muc" requires module "track-muc-joins": add it to modules_enabled' }]);
    expect(withLines(err, sourceMap).message).toBe(
      'invalid configuration in gateway.yaml: modules_enabled[1] (gateway.yaml line 8): module "ping-muc" requires module "track-muc-joins": add it to modules_enabled',
    );
  });

  it("an unknown top-level section is an error unless a module of that name is enabled", () => {
    expect(errorOf(`${BASE}report-forward:\n  report_forward_to: [a]\n`).message).toContain(
      'report-forward (gateway.yaml line 6): unknown key (not a gateway section, and no module "report-forward" in modules_enabled)',
    );
    const { config } = parseConfig(`${BASE}modules_enabled: [report-forward]\nreport-forward:\n  report_forward_to: [a]\n`, { env: { GATEWAY_SECRET: "s" } });
    expect(config.moduleSections).toEqual({ "report-forward": { report_forward_to: ["a"] } });
  });

  it("a wrong type is an error naming the key, the line, and what was given", () => {
    const err = errorOf(`${BASE}http:\n  body_limit: lots\n`);
    expect(err.message).toContain('http.body_limit (gateway.yaml line 7): expected number, got a string ("lots")');
  });

  it("a trusted proxy that is not an IP or a CIDR is an error at load (--check-config sees it)", () => {
    const err = errorOf(`${BASE}http:\n  trusted_proxies: [10.0.0.0/8, proxy.internal]\n`);
    expect(err.message).toContain(
      "http.trusted_proxies[1] (gateway.yaml line 7): expected an IP address, a CIDR like 10.0.0.0/8, or loopback, linklocal, uniquelocal",
    );
  });

  it("a missing environment secret is an error naming the variable and the key's line", () => {
    const err = errorOf(BASE, {});
    expect(err.message).toContain("component.secret (gateway.yaml line 4): environment variable GATEWAY_SECRET is not set");
  });

  it("${NAME:-default} falls back; interpolation works inside strings and lists", () => {
    expect(interpolateEnv({ a: "x-${A}-y", b: ["${B:-dflt}"], n: 5 }, { A: "1" })).toEqual({ a: "x-1-y", b: ["dflt"], n: 5 });
  });

  it("rooms: the gateway's own MUC seats are track-muc-joins' option, validated with their line", async () => {
    const rooms = `track-muc-joins:\n  rooms:\n    - room: mods@conference.example.org\n      nick: abuse-desk\n      password: \${MODS_PW}\n`;
    const { config, sourceMap } = parseConfig(`${BASE}modules_enabled: [track-muc-joins]\n${rooms}`, {
      source: "gateway.yaml",
      env: { GATEWAY_SECRET: "s", MODS_PW: "pw" },
    });
    const [joins] = await prepareModules(config, { sourceMap });
    expect((joins!.options as { rooms: unknown }).rooms).toEqual([{ room: "mods@conference.example.org", nick: "abuse-desk", password: "pw" }]);
    const bad = (yaml: string) => {
      const parsed = parseConfig(`${BASE}modules_enabled: [track-muc-joins]\ntrack-muc-joins:\n  rooms:\n${yaml}`, {
        source: "gateway.yaml",
        env: { GATEWAY_SECRET: "s" },
      });
      return prepareModules(parsed.config, { sourceMap: parsed.sourceMap }).then(
        () => undefined,
        (e: unknown) => e as ConfigError,
      );
    };
    expect((await bad(`    - room: conference.example.org\n      nick: ""\n`))!.issues.map((i) => [i.path, i.message])).toEqual([
      ["track-muc-joins.rooms[0].room", "a room address like mods@conference.example.org"],
      ["track-muc-joins.rooms[0].nick", "is empty"],
    ]);
    expect((await bad(`    - room: a@b\n      nick: x\n    - room: A@b\n      nick: y\n`))!.issues).toEqual([
      { path: "track-muc-joins.rooms[1].room", message: "A@b is listed twice", line: 11 },
    ]);
  });

  it("a top-level rooms list (before rooms moved into track-muc-joins) says where it goes now", () => {
    const err = errorOf(`${BASE}modules_enabled: [track-muc-joins]\nrooms:\n  - room: a@b\n    nick: x\n`);
    expect(err.message).toContain(
      "rooms (gateway.yaml line 7): the gateway's rooms are track-muc-joins' option now: move the list under `track-muc-joins:` as `rooms:`",
    );
  });

  it("modules_enabled takes short names and package names", () => {
    expect(
      parseConfig(`${BASE}modules_enabled: [ping-muc, "@acme/xmpp-desk", xmppkit-module-foo]\n`, { env: { GATEWAY_SECRET: "s" } }).config.modules_enabled,
    ).toEqual(["ping-muc", "@acme/xmpp-desk", "xmppkit-module-foo"]);
    expect(errorOf(`${BASE}modules_enabled: ["Bad Name"]\n`).issues[0]!.path).toBe("modules_enabled[0]");
  });

  it("a missing required section is reported", () => {
    const err = errorOf("server_domain: example.org\n");
    expect(err.issues).toContainEqual(expect.objectContaining({ path: "component", message: "is required (expected object)" }));
  });

  it("rejects a service that is not xmpp://host:port", () => {
    expect(errorOf(BASE.replace("xmpp://127.0.0.1:5347", "127.0.0.1:5347")).message).toMatch(
      /component.service \(gateway.yaml line 2\): expected "xmpp:\/\/host:port"/,
    );
  });

  it("rejects sqlite and postgres together, and duplicate modules", () => {
    const err = errorOf(`${BASE}storage:\n  sqlite: /tmp/x.db\n  postgres: postgres://u@h/db\nmodules_enabled: [a, a]\na: {}\n`);
    expect(err.issues.map((i) => i.path)).toEqual(expect.arrayContaining(["storage.postgres", "modules_enabled"]));
  });

  it("invalid YAML is a one-line error with the line", () => {
    expect(errorOf("component: [\n").message).toMatch(/^gateway.yaml line \d+: not valid YAML/);
  });

  it("the config must be a mapping", () => {
    expect(errorOf("- a\n- b\n").message).toContain("the config must be a YAML mapping");
  });

  it("accepts durations in the Prosody style", () => {
    const { config } = parseConfig(BASE.replace("server_domain", "  keepalive_interval: 2m\nserver_domain"), { env: { GATEWAY_SECRET: "s" } });
    expect(config.component.keepalive_interval).toBe(120_000);
  });

  it("the shipped example config is valid", () => {
    const text = readFileSync(new URL("../examples/gateway.yaml", import.meta.url), "utf8");
    const { config } = parseConfig(text, { env: { GATEWAY_SECRET: "s" } });
    expect(config.component.domain).toBe("gateway.example.org");
    expect(config.http.token).toBeUndefined(); // ${GATEWAY_HTTP_TOKEN:-} with the variable unset
  });

  it("examples/ejabberd-gateway.yml is valid YAML with what docs/compatibility.md asks for", () => {
    const ej = parseYaml(readFileSync(new URL("../examples/ejabberd-gateway.yml", import.meta.url), "utf8")) as {
      listen: { module: string; global_routes?: boolean; hosts?: Record<string, unknown> }[];
      modules: Record<string, Record<string, Record<string, unknown>>>;
      api_permissions: Record<string, { what: string[] }>;
    };
    const service = ej.listen.find((l) => l.module === "ejabberd_service")!;
    expect(service.global_routes).toBe(false);
    expect(Object.keys(service.hosts!)).toEqual(["gateway.example.org"]);
    expect(ej.modules.mod_privilege!.presence).toEqual({ managed_entity: "xmppkit_gateway" });
    expect(Object.keys(ej.modules.mod_delegation!.namespaces!)).toEqual(["urn:xmpp:raa:0"]);
    expect(Object.values(ej.api_permissions)[0]!.what.sort()).toEqual(["add_rosteritem", "check_account", "delete_rosteritem", "get_roster"]);
  });

  it("a command that needs only some sections can stand in for unset variables elsewhere (xmppkit-gateway audit)", () => {
    const yaml =
      "component:\n  service: xmpp://127.0.0.1:5347\n  domain: gw.localhost\n  secret: ${SECRET}\nserver_domain: localhost\nstorage:\n  postgres: postgres://audit:${PGPASS}@db/x\n";
    const unset = (_n: string, path: (string | number)[]) => (path[0] === "storage" ? undefined : "stand-in");
    expect(() => parseConfig(yaml, { env: {}, unsetEnv: unset })).toThrow(/storage\.postgres .*environment variable PGPASS is not set/);
    const { config } = parseConfig(yaml, { env: { PGPASS: "pw" }, unsetEnv: unset });
    expect(config.storage.postgres).toBe("postgres://audit:pw@db/x");
    expect(config.component.secret).toBe("stand-in");
  });
});
