import { fileURLToPath } from "node:url";
import { installAlone } from "@ws/test-utils";
import { describe, expect, it } from "vitest";

const serverDir = fileURLToPath(new URL("..", import.meta.url));
const codecDir = fileURLToPath(new URL("../../codec", import.meta.url));

// Starts a server, connects a raw socket, does a real handshake and one masked echo, prints OK.
const body = `
const server = await createServer({ port: 0, host: "127.0.0.1" });
server.on("connection", (conn) => conn.on("message", (data, isBinary) => conn.send(data, { binary: isBinary })));
const { port } = server.address();
const socket = net.connect(port, "127.0.0.1");
let received = Buffer.alloc(0);
const done = new Promise((resolve, reject) => {
  socket.on("error", reject);
  socket.on("data", (chunk) => {
    received = Buffer.concat([received, chunk]);
    const end = received.indexOf("\\r\\n\\r\\n");
    if (end === -1) return;
    const head = received.subarray(0, end).toString();
    if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(head));
    const frame = received.subarray(end + 4);
    if (frame.length >= 4) resolve(frame.subarray(2, 2 + frame[1]).toString());
  });
});
socket.write("GET / HTTP/1.1\\r\\nHost: x\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n");
const mask = [1, 2, 3, 4];
const payload = Buffer.from("echo");
socket.write(Buffer.from([0x81, 0x80 | payload.length, ...mask, ...payload.map((b, i) => b ^ mask[i & 3])]));
const echoed = await done;
socket.destroy();
await server.close({ timeout: 100 });
if (echoed !== "echo") throw new Error("bad echo: " + echoed);
console.log("OK");
`;

describe("install alone", () => {
  it("installs @ws/server with only @ws/codec and works from ESM and CommonJS", () => {
    const esm = `import net from "node:net";\nimport { createServer } from "@ws/server";\n${body}`;
    const cjs = `const net = require("node:net");\nconst { createServer } = require("@ws/server");\n(async () => {\n${body}\n})().catch((error) => { console.error(error); process.exit(1); });`;
    const result = installAlone([codecDir, serverDir], esm, cjs);
    expect(result.stdout).toBe("OK\nOK\n");
    expect(result.installed).toEqual(["codec", "server"]);
  }, 120_000);
});
