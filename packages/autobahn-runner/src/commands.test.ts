// The CLI end to end, with a fake `wstest` (a small node script) so no Python or Docker is needed.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { main, parseCli } from "./commands.js";

const fixtures = join(import.meta.dirname, "../test/fixtures/wstest");
const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "autobahn-cli-"));
  temps.push(dir);
  return dir;
}

function capture(): { io: { out: (t: string) => void; err: (t: string) => void }; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return { io: { out: (t) => void (out += t), err: (t) => void (err += t) }, out: () => out, err: () => err };
}

/** A fake wstest: fuzzingclient checks the server accepts TCP, prints wstest's lines, writes index.json. */
function fakeWstest(dir: string, behavior: "pass" | "fail" | "hang"): string {
  const file = join(dir, "wstest");
  writeFileSync(
    file,
    `#!${process.execPath}
const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
fs.writeFileSync(path.join(${JSON.stringify(dir)}, "wstest.pid"), String(process.pid));
const args = process.argv.slice(2);
const spec = JSON.parse(fs.readFileSync(args[args.indexOf("-s") + 1], "utf8"));
if (${JSON.stringify(behavior)} === "hang") setInterval(() => {}, 1000);
else {
  const server = spec.servers[0];
  const { hostname, port } = new URL(server.url);
  console.log("Ok, will run 2 test cases against 1 servers");
  net.connect(Number(port), hostname, function () {
    this.destroy();
    const index = { [server.agent]: {} };
    for (const id of ["1.1.1", "1.1.2"]) {
      console.log("Running test case ID " + id + " for agent " + server.agent + " from peer tcp4:" + hostname + ":" + port);
      const behavior = ${JSON.stringify(behavior)} === "fail" && id === "1.1.2" ? "FAILED" : "OK";
      index[server.agent][id] = { behavior, behaviorClose: "OK", duration: 1, remoteCloseCode: 1000, reportfile: "x_" + id + ".json" };
    }
    fs.mkdirSync(spec.outdir, { recursive: true });
    fs.writeFileSync(path.join(spec.outdir, "index.json"), JSON.stringify(index));
    fs.writeFileSync(path.join(${JSON.stringify(dir)}, "spec-seen.json"), JSON.stringify(spec));
  }).on("error", (e) => { console.error(e.message); process.exit(1); });
}
`,
  );
  chmodSync(file, 0o755);
  return file;
}

function accepts(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    tcpConnect(Number(port), hostname)
      .on("connect", function (this: Socket) {
        this.destroy();
        resolve(true);
      })
      .on("error", () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("parseCli", () => {
  it("has defaults for a run", () => {
    const args = parseCli(["server"]);
    expect(args).toMatchObject({ command: "server", engine: "docker", out: "reports", timeoutMs: 3_600_000, cases: [], allow: [] });
    expect(args.url).toBeUndefined();
    expect(args.serverCommand).toBeUndefined();
  });

  it("reads the server to test from --url and --command", () => {
    const args = parseCli(["server", "--command", "node echo.mjs --port {port}", "--url", "ws://127.0.0.1:9001/ws"]);
    expect(args).toMatchObject({ serverCommand: "node echo.mjs --port {port}", url: "ws://127.0.0.1:9001/ws" });
  });

  it("reads case lists, repeated options and time limits", () => {
    const args = parseCli(["client", "--cases", "1.*,2.*", "--cases", "9.1.*", "--exclude", "9.1.6", "--allow", "non-strict", "--timeout", "90"]);
    expect(args).toMatchObject({ cases: ["1.*", "2.*", "9.1.*"], exclude: ["9.1.6"], allow: ["NON-STRICT"], timeoutMs: 90_000 });
  });
});

describe("main", () => {
  it("server: asks for --url or --command, since it has no server of its own to start", async () => {
    const dir = tempDir();
    const c = capture();
    expect(await main(["server", "--engine", "local", "--wstest", fakeWstest(dir, "pass"), "--out", join(dir, "out")], c.io)).toBe(2);
    expect(c.err()).toContain("server needs --url URL (a running server) or --command CMD (one to start)");
    expect(existsSync(join(dir, "out"))).toBe(false);
  });

  it("answers a bad command line with usage and exit code 2", async () => {
    for (const argv of [["frobnicate"], ["server", "--engine", "podman"], ["server", "--timeout", "soon"], ["summary"], ["server", "--nope"]]) {
      const c = capture();
      expect(await main(argv, c.io)).toBe(2);
      expect(c.err()).toContain("usage: ws-autobahn");
    }
  });

  it("summary: prints the verdict, writes JUnit and Markdown, exits 1 on a case not accepted", async () => {
    const dir = tempDir();
    const c = capture();
    const code = await main(["summary", fixtures, "--junit", join(dir, "j.xml"), "--markdown", join(dir, "s.md")], c.io);
    expect(code).toBe(1);
    expect(c.out()).toContain("Verdict: FAIL: 8 cases");
    expect(readFileSync(join(dir, "j.xml"), "utf8")).toContain('<testsuites name="autobahn" tests="8" failures="3"');
    expect(readFileSync(join(dir, "s.md"), "utf8")).toContain("## Autobahn testsuite: ❌ fail");
  });

  it("summary: exits 0 when the allow-list and --allow cover every case not accepted", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "allow.txt"), "5.18  the fixture fails on purpose\n7.3.1 same\n");
    const c = capture();
    const argv = ["summary", fixtures, "--allow", "NON-STRICT", "--allow-list", join(dir, "allow.txt"), "--junit", join(dir, "j.xml"), "--markdown", join(dir, "s.md")];
    expect(await main(argv, c.io)).toBe(0);
    expect(c.out()).toContain("Verdict: PASS: 8 cases, 4 OK, 2 accepted (OK, INFORMATIONAL, NON-STRICT), 2 allowed by the allow-list, 0 failed");
  });

  it("case: prints one case's page", async () => {
    const c = capture();
    expect(await main(["case", fixtures, "2.9"], c.io)).toBe(0);
    expect(c.out()).toContain("Case 2.9: fixture-server");
    const missing = capture();
    expect(await main(["case", fixtures, "2.9", "--agent", "fixture-client"], missing.io)).toBe(1);
    expect(missing.err()).toContain("no case 2.9 for agent fixture-client");
  });

  it("server --command: starts the server on a free port, runs wstest, judges, and stops the server", async () => {
    const dir = tempDir();
    const wstest = fakeWstest(dir, "fail");
    // A stand-in for the server under test: it only has to accept TCP on the port it is given.
    const server = join(dir, "server.mjs");
    writeFileSync(server, `import { createServer } from "node:net";
createServer((s) => s.destroy()).listen(Number(process.argv[2]), "127.0.0.1", () => console.log("up on " + process.env.PORT));
`);
    const c = capture();
    const argv = ["server", "--engine", "local", "--wstest", wstest, "--out", join(dir, "out"), "--cases", "1.1.*", "--command", `"${process.execPath}" ${server} {port}`];
    const code = await main(argv, c.io);
    expect(code).toBe(1);
    expect(c.out()).toContain("Verdict: FAIL: 2 cases, 1 OK");
    const url = /server command listening on (\S+)/.exec(c.err())![1]!;
    const port = new URL(url).port;
    const spec = JSON.parse(readFileSync(join(dir, "spec-seen.json"), "utf8"));
    expect(spec).toMatchObject({ outdir: join(dir, "out/servers"), cases: ["1.1.*"], servers: [{ agent: "ws-server", url }] });
    // {port} and $PORT are the same port, the one that was tested.
    expect(readFileSync(join(dir, "out/server.log"), "utf8")).toContain(`up on ${port}`);
    expect(readFileSync(join(dir, "out/wstest-fuzzingclient.log"), "utf8")).toContain("Running test case ID 1.1.2");
    expect(await accepts(url)).toBe(false);
  });

  it("server --command: a command that exits before listening fails the run", async () => {
    const dir = tempDir();
    const c = capture();
    const argv = ["server", "--engine", "local", "--wstest", fakeWstest(dir, "pass"), "--out", join(dir, "out"), "--command", `"${process.execPath}" -e "process.exit(4)"`];
    expect(await main(argv, c.io)).toBe(3);
    expect(c.err()).toContain("server command exited before it accepted connections");
  });

  it("server --url: tests the given server and passes when every case is OK", async () => {
    const dir = tempDir();
    const wstest = fakeWstest(dir, "pass");
    const target = createTcpServer((s) => s.destroy()).listen(0, "127.0.0.1");
    await new Promise((r) => target.once("listening", r));
    const port = (target.address() as AddressInfo).port;
    try {
      const c = capture();
      const argv = ["server", "--engine", "local", "--wstest", wstest, "--out", join(dir, "out"), "--url", `ws://127.0.0.1:${port}`, "--agent", "other"];
      expect(await main(argv, c.io)).toBe(0);
      expect(c.out()).toContain("other: 2 cases");
    } finally {
      target.close();
    }
  });

  it("client: the time limit stops wstest and fails the run", async () => {
    const dir = tempDir();
    const wstest = fakeWstest(dir, "hang");
    const c = capture();
    const code = await main(["client", "--engine", "local", "--wstest", wstest, "--out", join(dir, "out"), "--timeout", "1"], c.io);
    expect(code).toBe(3);
    expect(c.err()).toContain("time limit");
    const pid = Number(readFileSync(join(dir, "wstest.pid"), "utf8"));
    expect(alive(pid)).toBe(false);
  });
});
