// A real browser over HTTP/2: headless Chromium (Debian's `chromium`) loads a page from an
// http2.createSecureServer we attach to, and the page's WebSocket to the same origin runs over an
// extended CONNECT stream on that connection (RFC 8441), which the server sees: the request is
// CONNECT on HTTP/2, and no HTTP/1.1 upgrade ever arrives. The page runs the checks (text, binary,
// compression, close codes both ways, 10,000 messages in order both ways) and posts what it saw.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selfSignedCertificate } from "@ws/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer, type Connection } from "../src/index.js";

/** Debian's binary, or CHROMIUM_PATH. */
function findChromium(): string | null {
  const candidates = [process.env.CHROMIUM_PATH, "chromium", "chromium-browser"].filter((name): name is string => !!name);
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ["--version"], { encoding: "utf8", timeout: 20_000 });
    if (probe.status === 0) return candidate;
  }
  return null;
}

const chromium = findChromium();
if (chromium === null) {
  console.warn("chromium.test.ts: SKIPPED, no Chromium found (apt-get install -y chromium, or set CHROMIUM_PATH)");
}

const COUNT = 10_000;

/** The page: every check runs in the browser, and the outcome is posted back to /result. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>ws over h2</title><script>
const COUNT = ${COUNT};
function open(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket("wss://" + location.host + path);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("WebSocket error on " + path));
  });
}
function next(ws) {
  return new Promise((resolve) => ws.addEventListener("message", (event) => resolve(event.data), { once: true }));
}
function closed(ws) {
  return new Promise((resolve) => ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean }), { once: true }));
}
async function run() {
  const result = {};
  const ws = await open("/ws?name=main");
  result.extensions = ws.extensions;
  ws.send("hello from chromium");
  result.text = await next(ws);
  ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]).buffer);
  result.binary = Array.from(new Uint8Array(await next(ws)));
  const big = "compressible ".repeat(20000);
  ws.send(big);
  result.bigEchoed = (await next(ws)) === big;
  // COUNT messages from the server, in order.
  const received = [];
  const all = new Promise((resolve) => {
    const onMessage = (event) => {
      received.push(event.data);
      if (received.length === COUNT) { ws.removeEventListener("message", onMessage); resolve(); }
    };
    ws.addEventListener("message", onMessage);
  });
  ws.send("flood");
  await all;
  result.inOrderFromServer = received.every((text, i) => text === "n" + i);
  // COUNT messages to the server; it answers with what it counted.
  for (let i = 0; i < COUNT; i++) ws.send("m" + i);
  ws.send("count?");
  result.serverCounted = await next(ws);
  const mainClosed = closed(ws);
  ws.close(4321, "page says bye");
  result.clientClose = await mainClosed;
  // The server closes the second one.
  const second = await open("/ws?name=second");
  const secondClosed = closed(second);
  second.send("close me");
  result.serverClose = await secondClosed;
  return result;
}
run().then(
  (result) => fetch("/result", { method: "POST", body: JSON.stringify(result) }),
  (error) => fetch("/result", { method: "POST", body: JSON.stringify({ error: String(error) }) }),
);
</script>`;

interface Seen {
  method: string | undefined;
  httpVersion: string;
  url: string;
  compressed: boolean;
  remotePort: number | undefined;
  closeCode?: number;
  closeReason?: string;
}

describe.skipIf(chromium === null)("headless Chromium over HTTP/2", () => {
  let http2Server: Http2SecureServer;
  let wss: WebSocketServer;
  let browser: ChildProcess | undefined;
  let profile: string;
  const seen: Seen[] = [];
  let upgrades = 0;
  let pagePort: number | undefined;
  let result: Promise<Record<string, unknown>>;

  beforeAll(async () => {
    http2Server = createSecureServer({ ...selfSignedCertificate(), allowHTTP1: true });
    http2Server.on("upgrade", () => upgrades++);
    result = new Promise((resolve) => {
      http2Server.on("request", (req, res) => {
        if (req.method === "POST" && req.url === "/result") {
          let body = "";
          req.setEncoding("utf8");
          req.on("data", (chunk: string) => (body += chunk));
          req.on("end", () => {
            res.end("thanks");
            resolve(JSON.parse(body) as Record<string, unknown>);
          });
          return;
        }
        if (req.url === "/") {
          pagePort = req.socket.remotePort;
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
          return;
        }
        res.writeHead(404).end();
      });
    });
    wss = new WebSocketServer({ server: http2Server, path: "/ws", perMessageDeflate: true });
    wss.on("connection", (conn: Connection, req) => {
      const entry: Seen = {
        method: req.method,
        httpVersion: req.httpVersion,
        url: conn.url,
        compressed: conn.compressed,
        remotePort: conn.remotePort,
      };
      seen.push(entry);
      conn.on("close", (code, reason) => Object.assign(entry, { closeCode: code, closeReason: reason }));
      let counted = 0;
      let inOrder = true;
      conn.on("message", (data, isBinary) => {
        const text = isBinary ? "" : data.toString();
        if (text === "flood") {
          for (let i = 0; i < COUNT; i++) conn.send(`n${i}`);
        } else if (text === "count?") {
          conn.send(`${counted} ${inOrder ? "in order" : "out of order"}`);
        } else if (text === "close me") {
          conn.close(4000, "server says bye");
        } else if (!isBinary && text.startsWith("m")) {
          if (text !== `m${counted}`) inOrder = false;
          counted++;
        } else {
          conn.send(data, { binary: isBinary });
        }
      });
    });
    await new Promise<void>((resolve) => http2Server.listen(0, "127.0.0.1", resolve));
    const { port } = http2Server.address() as AddressInfo;
    profile = mkdtempSync(join(tmpdir(), "ws-chromium-"));
    browser = spawn(
      chromium!,
      [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        // The test certificate is self-signed, made at run time.
        "--ignore-certificate-errors",
        `--user-data-dir=${profile}`,
        `https://127.0.0.1:${port}/`,
      ],
      { stdio: "ignore" },
    );
  }, 60_000);

  afterAll(async () => {
    if (browser !== undefined && browser.exitCode === null) {
      const exited = new Promise((resolve) => browser!.once("exit", resolve));
      browser.kill("SIGKILL");
      await exited;
    }
    await wss?.close({ timeout: 500 });
    await new Promise((resolve) => http2Server?.close(resolve));
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  });

  it("runs the page's WebSockets over extended CONNECT streams: text, binary, compression, close codes, 10,000 in order", async () => {
    const outcome = await result;
    expect(outcome.error).toBeUndefined();
    expect(outcome.text).toBe("hello from chromium");
    expect(outcome.binary).toEqual([0, 1, 2, 253, 254, 255]);
    expect(outcome.bigEchoed).toBe(true);
    expect(String(outcome.extensions)).toContain("permessage-deflate");
    expect(outcome.inOrderFromServer).toBe(true);
    expect(outcome.serverCounted).toBe(`${COUNT} in order`);
    expect(outcome.clientClose).toMatchObject({ code: 4321, wasClean: true });
    expect(outcome.serverClose).toEqual({ code: 4000, reason: "server says bye", wasClean: true });
    // The proof that this was HTTP/2: both WebSockets arrived as CONNECT requests on HTTP/2
    // streams, on the one connection the page came on, and no HTTP/1.1 upgrade was made.
    await expect.poll(() => seen.every((entry) => entry.closeCode !== undefined), { timeout: 10_000 }).toBe(true);
    expect(seen).toMatchObject([
      { method: "CONNECT", httpVersion: "2.0", url: "/ws?name=main", compressed: true, closeCode: 4321, closeReason: "page says bye" },
      { method: "CONNECT", httpVersion: "2.0", url: "/ws?name=second", compressed: true, closeCode: 4000 },
    ]);
    expect(seen.map((entry) => entry.remotePort)).toEqual([pagePort, pagePort]);
    expect(upgrades).toBe(0);
  }, 120_000);
});
