import { describe, expect, it } from "vitest";
import { haRole, notServingReason } from "./ha.js";

function gauges() {
  const active: number[] = [];
  const states: Record<string, number> = {};
  const metrics = {
    gauge: (_m: string, name: string) => ({
      set: (value: number, labels?: { state: string }) => {
        if (name === "ha_active") active.push(value);
        else states[labels!.state] = value;
      },
    }),
  } as never;
  const current = () =>
    Object.entries(states)
      .filter(([, v]) => v === 1)
      .map(([k]) => k);
  return { active, current, metrics };
}

describe("the gateway's state", () => {
  it("without ha, active from the start (and after a wait for the store)", () => {
    const g = gauges();
    const ha = haRole(g.metrics, { ha: { enabled: false } } as never);
    expect([ha.role, g.active, g.current()]).toEqual(["active", [1], ["active"]]);
    ha.waitingForStore("connect ECONNREFUSED 127.0.0.1:5432");
    expect([ha.role, ha.error, g.current()]).toEqual(["waiting-store", "connect ECONNREFUSED 127.0.0.1:5432", ["waiting-store"]]);
    ha.storeOpen();
    expect([ha.role, ha.error]).toEqual(["active", undefined]);
  });

  it("with ha: asking until PostgreSQL answers; standby while another holds the lease; unreachable; active once held", () => {
    const g = gauges();
    const ha = haRole(g.metrics, { ha: { enabled: true } } as never);
    expect([ha.role, g.active]).toEqual(["asking", [0]]);
    ha.standby();
    expect([ha.role, g.current()]).toEqual(["standby", ["standby"]]);
    ha.unreachable("Connection terminated unexpectedly");
    expect([ha.role, g.current()]).toEqual(["unreachable", ["unreachable"]]);
    ha.active();
    expect([ha.role, g.active.at(-1), g.current()]).toEqual(["active", 1, ["active"]]);
  });
});

describe("what /healthz says while not serving", () => {
  const C = "gateway.example.org";
  it("never claims that another instance holds the lease while PostgreSQL cannot be asked", () => {
    expect(notServingReason({ role: "waiting-store", error: "connect ECONNREFUSED 127.0.0.1:5432" }, C)).toEqual({
      status: "waiting",
      reason: "waiting for PostgreSQL: connect ECONNREFUSED 127.0.0.1:5432",
    });
    expect(notServingReason({ role: "asking", error: undefined }, C).reason).toBe("standby: asking PostgreSQL for the lease");
    expect(notServingReason({ role: "unreachable", error: "timeout" }, C).reason).toBe(
      `standby: cannot reach PostgreSQL to ask for the lease (timeout); nobody can tell who holds ${C}`,
    );
    expect(notServingReason({ role: "standby", error: undefined }, C).reason).toBe(`standby: another instance holds ${C}`);
  });
});
