// Proves @ws/client installs and runs on its own: packed with @ws/codec, installed with npm into an
// empty folder, imported from ESM and CommonJS scripts that talk to a raw `net` WebSocket server.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { installAlone } from "@ws/test-utils";
import { describe, expect, it } from "vitest";

const clientDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const codecDir = join(clientDir, "..", "codec");

// A tiny WebSocket server written by hand (101 with a computed accept, one echoed frame), then the
// client connects with both APIs, and a closed port must give error then close 1006.
const body = (imports: string): string => `${imports}
const server = net.createServer((socket) => {
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  socket.on("data", (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (!upgraded) {
      const end = buffer.indexOf("\\r\\n\\r\\n");
      if (end === -1) return;
      const key = /sec-websocket-key: *(\\S+)/i.exec(buffer.toString("latin1", 0, end))[1];
      const accept = crypto.createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
      socket.write("HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: " + accept + "\\r\\n\\r\\n");
      buffer = buffer.subarray(end + 4);
      upgraded = true;
    }
    if (buffer.length < 6) return;
    const opcode = buffer[0] & 0x0f;
    const length = buffer[1] & 0x7f;
    if (buffer.length < 6 + length) return;
    const mask = buffer.subarray(2, 6);
    const payload = Buffer.from(buffer.subarray(6, 6 + length));
    for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    buffer = buffer.subarray(6 + length);
    socket.write(Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]));
  });
  socket.on("error", () => {});
});
server.listen(0, "127.0.0.1", async () => {
  const port = server.address().port;
  const ws = new WebSocket("ws://127.0.0.1:" + port);
  const echoed = await new Promise((resolve, reject) => {
    ws.onopen = () => ws.send("ping");
    ws.onmessage = (event) => resolve(event.data);
    ws.onerror = () => reject(new Error("error event"));
  });
  if (echoed !== "ping") throw new Error("bad echo " + echoed);
  ws.onerror = null;
  ws.close();
  const conn = await connect("ws://127.0.0.1:" + port, { perMessageDeflate: false });
  const reply = new Promise((resolve) => conn.once("message", resolve));
  conn.send("node");
  if ((await reply) !== "node") throw new Error("bad Node API echo");
  conn.terminate();
  server.close();
  const probe = net.createServer();
  probe.listen(0, "127.0.0.1", () => {
    const closedPort = probe.address().port;
    probe.close(() => {
      const failing = new WebSocket("ws://127.0.0.1:" + closedPort);
      const events = [];
      failing.onerror = () => events.push("error");
      failing.onclose = (event) => {
        events.push("close " + event.code);
        if (events.join() !== "error,close 1006") throw new Error("events: " + events.join());
        console.log("OK");
      };
    });
  });
});
`;

const esm = body(`import net from "node:net";
import crypto from "node:crypto";
import { WebSocket, connect } from "@ws/client";`);
const cjs = body(`const net = require("node:net");
const crypto = require("node:crypto");
const { WebSocket, connect } = require("@ws/client");`);

describe("install alone", () => {
  it("installs with only @ws/codec and runs from ESM and CommonJS", () => {
    const result = installAlone([codecDir, clientDir], esm, cjs);
    expect(result.installed).toEqual(["client", "codec"]);
    expect(result.stdout.trim().split("\n")).toEqual(["OK", "OK"]);
  }, 180_000);
});
