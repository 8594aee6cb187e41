// The driver against a small fake fuzzingserver: it speaks the Autobahn client protocol
// (getCaseCount, runCase, updateReports), sends each case's messages and records the echoes.
import { createServer, type WebSocketServer } from "@ws/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driveClient, getCaseCount, runCase } from "./driver.js";

type Sent = [data: string | Buffer, binary: boolean];

const CASES: Record<number, Sent[]> = {
  1: [
    ["Hello", false],
    [Buffer.from([0, 1, 2, 255]), true],
    ["ü€𝄞", false],
  ],
  2: Array.from({ length: 50 }, (_, i): Sent => (i % 2 === 0 ? [`message ${i}`, false] : [Buffer.alloc(i * 100, i), true])),
  3: [
    ["", false],
    [Buffer.alloc(0), true],
  ],
};

let server: WebSocketServer;
let url: string;
let caseCountAnswer = "3";
const requests: Array<{ path: string; case: string | null; agent: string | null }> = [];
const echoes = new Map<number, Sent[]>();
const extensions: string[] = [];

beforeAll(async () => {
  server = await createServer({
    port: 0,
    host: "127.0.0.1",
    perMessageDeflate: { threshold: 0 },
    upgrade: (req) => (req.url?.includes("case=99") === true ? { status: 403 } : undefined),
  });
  url = server.url!;
  server.on("connection", (conn) => {
    const target = new URL(conn.url, "ws://fake");
    requests.push({ path: target.pathname, case: target.searchParams.get("case"), agent: target.searchParams.get("agent") });
    if (target.pathname === "/getCaseCount") {
      conn.send(caseCountAnswer);
      void conn.close(1000);
    } else if (target.pathname === "/runCase") {
      const n = Number(target.searchParams.get("case"));
      const sent = CASES[n];
      if (sent === undefined) return; // never closes: the case time limit must end it
      extensions.push(conn.extensions);
      const got: Sent[] = [];
      echoes.set(n, got);
      conn.on("message", (data, isBinary) => {
        got.push([isBinary ? data : data.toString("utf8"), isBinary]);
        if (got.length === sent.length) void conn.close(1000);
      });
      for (const [data, binary] of sent) conn.send(data, { binary });
    } else if (target.pathname === "/updateReports") {
      void conn.close(1000);
    }
  });
});

afterAll(async () => {
  await server.close({ timeout: 1000 });
});

describe("driveClient", () => {
  it("runs every case, echoing each message in order and as sent, then updates the reports", async () => {
    requests.length = 0;
    const progress: Array<[number, number, number]> = [];
    const result = await driveClient({ url, agent: "ws-client test", onProgress: (...p) => progress.push(p) });

    expect(result.total).toBe(3);
    expect(result.runs.map((r) => [r.case, r.messages, r.code, r.wasClean])).toEqual([
      [1, 3, 1000, true],
      [2, 50, 1000, true],
      [3, 2, 1000, true],
    ]);
    for (const n of [1, 2, 3]) expect(echoes.get(n)).toEqual(CASES[n]);
    expect(requests).toEqual([
      { path: "/getCaseCount", case: null, agent: null },
      { path: "/runCase", case: "1", agent: "ws-client test" },
      { path: "/runCase", case: "2", agent: "ws-client test" },
      { path: "/runCase", case: "3", agent: "ws-client test" },
      { path: "/updateReports", case: null, agent: "ws-client test" },
    ]);
    expect(progress).toEqual([
      [0, 3, 1],
      [1, 3, 2],
      [2, 3, 3],
      [3, 3, 3],
    ]);
  });

  it("offers permessage-deflate, so the compression cases (12, 13) run", () => {
    expect(extensions.length).toBeGreaterThan(0);
    for (const e of extensions) expect(e).toMatch(/^permessage-deflate/);
  });
});

describe("runCase", () => {
  it("records a refused handshake and goes on", async () => {
    const run = await runCase(url, 99, "a");
    expect(run).toMatchObject({ case: 99, messages: 0, code: 1006, wasClean: false, timedOut: false });
    expect(run.error).toMatch(/403/);
  });

  it("terminates a case that outlives the case time limit", async () => {
    const run = await runCase(url, 4, "a", { caseTimeoutMs: 200 });
    expect(run).toMatchObject({ case: 4, code: 1006, timedOut: true });
  });
});

describe("getCaseCount", () => {
  it("rejects an answer that is not a count", async () => {
    caseCountAnswer = "many";
    await expect(getCaseCount(url)).rejects.toThrow(/answered "many"/);
    caseCountAnswer = "3";
  });

  it("says when the fuzzingserver cannot be reached", async () => {
    await expect(getCaseCount("ws://127.0.0.1:1", { retryMs: 300 })).rejects.toThrow(/cannot reach the fuzzingserver/);
  });
});
