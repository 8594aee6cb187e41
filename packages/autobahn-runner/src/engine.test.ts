import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AUTOBAHN_IMAGE, AUTOBAHN_IMAGE_DIGEST, AUTOBAHN_IMAGE_TAG, containerUrl, wstestInvocation, wstestPaths } from "./engine.js";

const dirs = { specDir: "/work/reports/spec", reportsDir: "/work/reports" };

describe("the pinned image", () => {
  it("is referenced by digest", () => {
    expect(AUTOBAHN_IMAGE_TAG).toBe("crossbario/autobahn-testsuite:0.8.2");
    expect(AUTOBAHN_IMAGE_DIGEST).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(AUTOBAHN_IMAGE).toBe(`crossbario/autobahn-testsuite@${AUTOBAHN_IMAGE_DIGEST}`);
  });
});

describe("wstestInvocation, docker", () => {
  it("fuzzingclient on Linux: host network, our user, reports and spec mounted, image by digest", () => {
    const inv = wstestInvocation({ engine: "docker", mode: "fuzzingclient", dirs, platform: "linux", user: { uid: 1000, gid: 1001 }, containerName: "ab" });
    expect(inv.command).toBe("docker");
    expect(inv.args).toEqual([
      "run", "--rm", "--init", "--name", "ab",
      "--network", "host",
      "--user", "1000:1001",
      "-e", "PYTHONUNBUFFERED=1",
      "-v", "/work/reports:/reports",
      "-v", "/work/reports/spec:/config:ro",
      AUTOBAHN_IMAGE,
      "wstest", "-m", "fuzzingclient", "-s", "/config/fuzzingclient.json",
    ]);
    expect(inv.containerName).toBe("ab");
  });

  it("fuzzingserver elsewhere: publishes the port on loopback instead, no web port", () => {
    const inv = wstestInvocation({ engine: "docker", mode: "fuzzingserver", dirs, platform: "darwin", port: 9003, containerName: "ab", image: "my/wstest:1" });
    expect(inv.args).toEqual([
      "run", "--rm", "--init", "--name", "ab",
      "-p", "127.0.0.1:9003:9003",
      "-e", "PYTHONUNBUFFERED=1",
      "-v", "/work/reports:/reports",
      "-v", "/work/reports/spec:/config:ro",
      "my/wstest:1",
      "wstest", "-m", "fuzzingserver", "-s", "/config/fuzzingserver.json", "-u", "0",
    ]);
  });

  it("puts reports in /reports/servers or /reports/clients inside the container", () => {
    expect(wstestPaths("docker", "fuzzingclient", dirs)).toEqual({ outdir: "/reports/servers", spec: "/config/fuzzingclient.json" });
    expect(wstestPaths("docker", "fuzzingserver", dirs)).toEqual({ outdir: "/reports/clients", spec: "/config/fuzzingserver.json" });
  });

  it("rewrites loopback URLs for Docker Desktop only", () => {
    expect(containerUrl("ws://127.0.0.1:9001", "linux")).toBe("ws://127.0.0.1:9001");
    expect(containerUrl("ws://127.0.0.1:9001", "darwin")).toBe("ws://host.docker.internal:9001");
    expect(containerUrl("ws://localhost:9001/echo", "win32")).toBe("ws://host.docker.internal:9001/echo");
    expect(containerUrl("ws://example.com:9001", "darwin")).toBe("ws://example.com:9001");
  });
});

describe("wstestInvocation, local", () => {
  it("runs the given binary in the reports folder with host paths", () => {
    const inv = wstestInvocation({ engine: "local", mode: "fuzzingserver", dirs, wstest: "/opt/bin/wstest" });
    expect(inv).toEqual({
      command: "/opt/bin/wstest",
      args: ["-m", "fuzzingserver", "-s", "/work/reports/spec/fuzzingserver.json", "-u", "0"],
      cwd: "/work/reports",
      env: { PYTHONUNBUFFERED: "1" },
    });
    expect(wstestPaths("local", "fuzzingclient", dirs).outdir).toBe("/work/reports/servers");
  });

  it("needs the binary", () => {
    expect(() => wstestInvocation({ engine: "local", mode: "fuzzingclient", dirs })).toThrow(/--wstest PATH/);
  });
});

describe("the pipeline in apps/autobahn", () => {
  const compose = join(import.meta.dirname, "../../../apps/autobahn/docker-compose.yml");

  it.skipIf(!existsSync(compose))("runs the same pinned image as the runner", () => {
    const images = [...readFileSync(compose, "utf8").matchAll(/^\s*image:\s*(crossbario\/\S+)\s*$/gm)].map((m) => m[1]);
    expect(images).toEqual([AUTOBAHN_IMAGE]);
  });
});
