// Echo server on @ws/server for the HTTP/2 rows: its own port over TLS, HTTP/2 (RFC 8441) and
// HTTP/1.1 (allowHTTP1) on the same port, so both transports meet the same server. It makes a
// self-signed certificate with the openssl CLI and prints its path with the ready line.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "@ws/server";

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "bench-tls-"));
const keyPath = join(dir, "key.pem");
const certPath = join(dir, "cert.pem");
execFileSync(
  "openssl",
  ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
  { stdio: ["ignore", "ignore", "pipe"] },
);

const server = await createServer({
  port: 0,
  host: "127.0.0.1",
  backlog: 4096,
  // Room for every WebSocket of the idle row on one session.
  http2: { key: readFileSync(keyPath), cert: readFileSync(certPath), allowHTTP1: true, settings: { maxConcurrentStreams: 100_000 } },
  maxStreamsPerSession: 100_000,
  perMessageDeflate: false,
  maxPayload: 64 * MiB,
  maxBufferedAmount: 256 * MiB,
  receiveHighWaterMark: 64 * MiB,
});

server.on("connection", (conn) => {
  conn.on("message", (data, isBinary) => {
    conn.send(data, { binary: isBinary });
  });
});

const address = server.url === null ? null : new URL(server.url);
process.stdout.write(`${JSON.stringify({ ready: true, port: Number(address?.port), pid: process.pid, impl: "ours-tls", ca: certPath })}\n`);
process.on("SIGTERM", () => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
