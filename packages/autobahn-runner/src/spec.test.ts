import { describe, expect, it } from "vitest";
import { fuzzingClientSpec, fuzzingServerSpec, parseCaseList } from "./spec.js";

describe("spec files", () => {
  it("fuzzingclient: one server, the selected cases, reports where wstest will see them", () => {
    expect(
      fuzzingClientSpec({ agent: "ws-server", url: "ws://127.0.0.1:9001", outdir: "/reports/servers", cases: ["1.*", "9.1.*"], exclude: ["9.1.6"] }),
    ).toEqual({
      outdir: "/reports/servers",
      servers: [{ agent: "ws-server", url: "ws://127.0.0.1:9001", options: { version: 18 } }],
      cases: ["1.*", "9.1.*"],
      "exclude-cases": ["9.1.6"],
      "exclude-agent-cases": {},
    });
  });

  it("fuzzingserver: the URL to listen on; every case when none are selected", () => {
    expect(fuzzingServerSpec({ url: "ws://127.0.0.1:9003", outdir: "/tmp/r/clients", cases: [] })).toEqual({
      url: "ws://127.0.0.1:9003",
      outdir: "/tmp/r/clients",
      cases: ["*"],
      "exclude-cases": [],
      "exclude-agent-cases": {},
    });
  });
});

describe("parseCaseList", () => {
  it("splits on commas and spaces", () => {
    expect(parseCaseList("1.*,2.*  9.1.*, 5.18")).toEqual(["1.*", "2.*", "9.1.*", "5.18"]);
    expect(parseCaseList("")).toEqual([]);
  });

  it("rejects what is not a case id or pattern", () => {
    expect(() => parseCaseList("1.*,all")).toThrow(/"all" is not a case id/);
  });
});
