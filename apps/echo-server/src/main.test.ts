import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";

const main = fileURLToPath(new URL("../dist/main.mjs", import.meta.url));
let child: ChildProcess | null = null;

afterEach(() => {
  if (child !== null && child.exitCode === null) child.kill("SIGKILL");
  child = null;
});

async function start(...args: string[]): Promise<{ proc: ChildProcess; url: URL }> {
  const proc = spawn(process.execPath, [main, "--port", "0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  child = proc;
  const lines = createInterface({ input: proc.stdout! });
  const [line] = (await once(lines, "line")) as [string];
  return { proc, url: new URL(line) };
}

/** A minimal raw client: handshake, masked frames out, unmasked frames in. */
class Client {
  private data = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.data = Buffer.concat([this.data, chunk]);
      this.wake?.();
    });
  }

  static async open(url: URL, extensions?: string): Promise<{ client: Client; head: string }> {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    await once(socket, "connect");
    const client = new Client(socket);
    socket.write(
      `GET / HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n` +
        (extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : "") +
        "\r\n",
    );
    for (let i = 0; i < 100 && client.data.indexOf("\r\n\r\n") === -1; i++) await client.more();
    const end = client.data.indexOf("\r\n\r\n");
    const head = client.data.subarray(0, end).toString("latin1");
    client.data = client.data.subarray(end + 4);
    return { client, head };
  }

  more(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timeout")), 5000);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  send(opcode: number, payload: Buffer, rsv1 = false): void {
    const mask = randomBytes(4);
    const length = payload.length;
    const header =
      length < 126
        ? Buffer.from([0x80 | (rsv1 ? 0x40 : 0) | opcode, 0x80 | length])
        : Buffer.from([0x80 | (rsv1 ? 0x40 : 0) | opcode, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0]);
    if (length >= 126) header.writeUInt32BE(length, 6);
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
    this.socket.write(Buffer.concat([header, mask, body]));
  }

  async frame(): Promise<{ opcode: number; rsv1: boolean; payload: Buffer }> {
    for (let i = 0; i < 10_000; i++) {
      if (this.data.length >= 2) {
        let length = this.data[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          length = this.data.length >= 4 ? this.data.readUInt16BE(2) : Infinity;
          offset = 4;
        } else if (length === 127) {
          length = this.data.length >= 10 ? Number(this.data.readBigUInt64BE(2)) : Infinity;
          offset = 10;
        }
        if (this.data.length >= offset + length) {
          const result = {
            opcode: this.data[0]! & 0x0f,
            rsv1: (this.data[0]! & 0x40) !== 0,
            payload: Buffer.from(this.data.subarray(offset, offset + length)),
          };
          this.data = this.data.subarray(offset + length);
          return result;
        }
      }
      await this.more();
    }
    throw new Error("no frame");
  }
}

describe("echo-server", () => {
  it("prints its ws:// URL, echoes text and binary (compressed both ways), and stops on SIGTERM", async () => {
    const { proc, url } = await start("--host", "127.0.0.1");
    expect(url.protocol).toBe("ws:");
    expect(url.hostname).toBe("127.0.0.1");
    expect(Number(url.port)).toBeGreaterThan(0);

    const { client, head } = await Client.open(url, "permessage-deflate; client_max_window_bits");
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head.toLowerCase()).toContain("sec-websocket-extensions: permessage-deflate");

    client.send(0x1, Buffer.from("hello"));
    let reply = await client.frame();
    expect(reply.opcode).toBe(0x1);
    const text = reply.rsv1 ? inflateRawSync(Buffer.concat([reply.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: constants.Z_SYNC_FLUSH }) : reply.payload;
    expect(text.toString()).toBe("hello");

    const binary = randomBytes(100_000);
    const compressed = deflateRawSync(binary, { finishFlush: constants.Z_SYNC_FLUSH });
    client.send(0x2, compressed.subarray(0, compressed.length - 4), true);
    reply = await client.frame();
    expect(reply.opcode).toBe(0x2);
    const back = reply.rsv1 ? inflateRawSync(Buffer.concat([reply.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: constants.Z_SYNC_FLUSH }) : reply.payload;
    expect(back.equals(binary)).toBe(true);

    proc.kill("SIGTERM");
    // Graceful: the server says 1001 before exiting.
    const close = await client.frame();
    expect(close.opcode).toBe(0x8);
    expect(close.payload.readUInt16BE(0)).toBe(1001);
    client.send(0x8, close.payload.subarray(0, 2));
    const [code] = (await once(proc, "exit")) as [number | null];
    expect(code).toBe(0);
  });

  it("runs without compression", async () => {
    const { proc, url } = await start("--no-compression");
    const { client, head } = await Client.open(url, "permessage-deflate");
    expect(head.toLowerCase()).not.toContain("sec-websocket-extensions");
    client.send(0x1, Buffer.from("plain"));
    const reply = await client.frame();
    expect(reply).toEqual({ opcode: 0x1, rsv1: false, payload: Buffer.from("plain") });
    client.socket.destroy();
    proc.kill("SIGINT");
    const [code] = (await once(proc, "exit")) as [number | null];
    expect(code).toBe(0);
  });

  it('reads the flags after a leading "--" (pnpm start -- --port N) and refuses stray arguments', async () => {
    const proc = spawn(process.execPath, [main, "--", "--port", "0", "--no-compression"], { stdio: ["ignore", "pipe", "inherit"] });
    child = proc;
    const [line] = (await once(createInterface({ input: proc.stdout! }), "line")) as [string];
    const url = new URL(line);
    expect(url.port).not.toBe("9001");
    const { client, head } = await Client.open(url, "permessage-deflate");
    expect(head.toLowerCase()).not.toContain("sec-websocket-extensions");
    client.socket.destroy();
    proc.kill("SIGINT");
    expect(((await once(proc, "exit")) as [number | null])[0]).toBe(0);

    const stray = spawn(process.execPath, [main, "--port", "0", "9002"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    stray.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(stray, "exit")) as [number | null];
    expect(code).toBe(2);
    expect(stderr).toContain("unexpected argument: 9002");
  });
});
