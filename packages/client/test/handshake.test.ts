// Opening-handshake failures (RFC 6455 §4.1), each from a scripted raw `net` server: the client must
// reject with a clear reason and destroy the socket.
import { afterEach, describe, expect, it } from "vitest";
import { ClientError, WebSocket, connect, type ClientOptions, type CloseEvent } from "../src/index.js";
import { acceptFor, once, recordEvents, scriptedServer, type ScriptedServer, type UpgradeRequest } from "./helpers.js";

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Serves `respond(request)` as the raw response and reports whether the client then closed TCP. */
async function failing(
  respond: (request: UpgradeRequest) => string,
  options: ClientOptions = {},
): Promise<{ error: ClientError; socketClosed: Promise<void> }> {
  let socketClosed!: Promise<void>;
  server = await scriptedServer(async (peer) => {
    socketClosed = peer.closed;
    const request = await peer.readRequest();
    peer.write(respond(request));
  });
  const error = await connect(server.url, options).then(
    () => {
      throw new Error("connect() should have failed");
    },
    (caught: unknown) => caught as ClientError,
  );
  expect(error).toBeInstanceOf(ClientError);
  return { error, socketClosed };
}

const ok = (request: UpgradeRequest, extra = ""): string =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(
    request.headers["sec-websocket-key"]!,
  )}\r\n${extra}\r\n`;

describe("the upgrade request", () => {
  it("sends a valid RFC 6455 request with the options' headers", async () => {
    let request: UpgradeRequest | undefined;
    server = await scriptedServer(async (peer) => {
      request = await peer.accept();
    });
    const conn = await connect(`${server.url}/path?q=1`, {
      protocols: ["chat", "superchat"],
      headers: { "X-Custom": "yes", Cookie: "a=b" },
      origin: "https://example.com",
    });
    conn.terminate();
    expect(request!.method).toBe("GET");
    expect(request!.path).toBe("/path?q=1");
    expect(request!.raw.startsWith("GET /path?q=1 HTTP/1.1\r\n")).toBe(true);
    expect(request!.headers).toMatchObject({
      host: `127.0.0.1:${server.port}`,
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "chat, superchat",
      "x-custom": "yes",
      cookie: "a=b",
      origin: "https://example.com",
    });
    expect(Buffer.from(request!.headers["sec-websocket-key"]!, "base64")).toHaveLength(16);
  });

  it("uses a new random key for each connection", async () => {
    const keys: string[] = [];
    server = await scriptedServer(async (peer) => {
      keys.push((await peer.accept()).headers["sec-websocket-key"]!);
    });
    for (let i = 0; i < 3; i++) (await connect(server.url)).terminate();
    expect(new Set(keys).size).toBe(3);
  });

  it("refuses headers with CR/LF (no header injection)", async () => {
    server = await scriptedServer((peer) => void peer.accept());
    await expect(connect(server.url, { headers: { "X-Bad": "a\r\nInjected: 1" } })).rejects.toMatchObject({
      code: "WS_ERR_INVALID_OPTION",
    });
  });
});

describe("handshake response checks", () => {
  it("rejects a non-101 status with the status code", async () => {
    const { error, socketClosed } = await failing(() => "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    expect(error.code).toBe("WS_ERR_UNEXPECTED_STATUS");
    expect(error.statusCode).toBe(403);
    expect(error.message).toContain("403");
    await socketClosed;
  });

  it("rejects a missing Upgrade header", async () => {
    const { error, socketClosed } = await failing((r) =>
      ok(r).replace("Upgrade: websocket\r\n", ""),
    );
    expect(error.code).toBe("WS_ERR_INVALID_HANDSHAKE");
    expect(error.message).toMatch(/Upgrade/);
    await socketClosed;
  });

  it("rejects a wrong Upgrade value", async () => {
    const { error } = await failing((r) => ok(r).replace("Upgrade: websocket", "Upgrade: h2c"));
    expect(error.message).toMatch(/Upgrade/);
  });

  it("rejects a missing Connection: Upgrade", async () => {
    const { error } = await failing((r) => ok(r).replace("Connection: Upgrade", "Connection: keep-alive"));
    expect(error.code).toBe("WS_ERR_INVALID_HANDSHAKE");
    expect(error.message).toMatch(/Connection/);
  });

  it("rejects a wrong Sec-WebSocket-Accept", async () => {
    const { error, socketClosed } = await failing((r) =>
      ok(r).replace(/Sec-WebSocket-Accept: .*\r\n/, `Sec-WebSocket-Accept: ${acceptFor("AAAAAAAAAAAAAAAAAAAAAA==")}\r\n`),
    );
    expect(error.message).toMatch(/Sec-WebSocket-Accept/);
    await socketClosed;
  });

  it("rejects a repeated Sec-WebSocket-Accept", async () => {
    const { error } = await failing((r) => {
      const accept = acceptFor(r.headers["sec-websocket-key"]!);
      return ok(r, `Sec-WebSocket-Accept: ${accept}\r\n`);
    });
    expect(error.message).toMatch(/Sec-WebSocket-Accept/);
  });

  it("rejects a subprotocol that was not offered", async () => {
    const { error } = await failing((r) => ok(r, "Sec-WebSocket-Protocol: other\r\n"), { protocols: ["chat"] });
    expect(error.message).toMatch(/subprotocol/);
  });

  it("rejects a subprotocol when none was offered", async () => {
    const { error } = await failing((r) => ok(r, "Sec-WebSocket-Protocol: chat\r\n"));
    expect(error.message).toMatch(/subprotocol/);
  });

  it("rejects an extension that was not offered", async () => {
    const { error } = await failing((r) => ok(r, "Sec-WebSocket-Extensions: permessage-deflate\r\n"), {
      perMessageDeflate: false,
    });
    expect(error.message).toMatch(/extension/i);
  });

  it("rejects an unknown extension", async () => {
    const { error } = await failing((r) => ok(r, "Sec-WebSocket-Extensions: x-unknown\r\n"));
    expect(error.code).toBe("WS_ERR_INVALID_HANDSHAKE");
  });

  it.each([
    ["an invalid window size (SECURITY row 7)", "permessage-deflate; server_max_window_bits=1000"],
    ["an unknown parameter", "permessage-deflate; foo=1"],
    ["a repeated parameter", "permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
    ["client_max_window_bits without a value", "permessage-deflate; client_max_window_bits"],
    ["two permessage-deflate entries", "permessage-deflate, permessage-deflate"],
  ])("rejects permessage-deflate with %s", async (_name, value) => {
    const { error } = await failing((r) => ok(r, `Sec-WebSocket-Extensions: ${value}\r\n`));
    expect(error.code).toBe("WS_ERR_INVALID_HANDSHAKE");
    expect(error.message).toMatch(/permessage-deflate/);
  });

  it("rejects a server_max_window_bits above the one requested", async () => {
    const { error } = await failing((r) => ok(r, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n"), {
      perMessageDeflate: { serverMaxWindowBits: 10 },
    });
    expect(error.message).toMatch(/server_max_window_bits/);
  });

  it("rejects a malformed status line and an oversized head", async () => {
    const bad = await failing(() => "SSH-2.0-OpenSSH\r\n\r\n");
    expect(bad.error.code).toBe("WS_ERR_INVALID_HANDSHAKE");
    await server?.close();
    const big = await failing(() => `HTTP/1.1 101 Switching Protocols\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(big.error.message).toMatch(/larger than/);
  });

  it("rejects when the server closes during the handshake", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.readRequest();
      peer.socket.end();
    });
    await expect(connect(server.url)).rejects.toMatchObject({ code: "WS_ERR_CONNECTION_FAILED" });
  });

  it("times out with handshakeTimeout when the server never answers", async () => {
    let socketClosed!: Promise<void>;
    server = await scriptedServer(async (peer) => {
      socketClosed = peer.closed;
      await peer.readRequest();
    });
    await expect(connect(server.url, { handshakeTimeout: 200 })).rejects.toMatchObject({ code: "WS_ERR_HANDSHAKE_TIMEOUT" });
    await socketClosed;
  });

  it("aborts with an AbortSignal", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.readRequest();
    });
    const controller = new AbortController();
    const pending = connect(server.url, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ code: "WS_ERR_ABORTED" });
  });

  it("reports a handshake failure on the WHATWG API as error then close 1006", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.readRequest();
      peer.write("HTTP/1.1 404 Not Found\r\n\r\n");
    });
    const ws = new WebSocket(server.url);
    const log = recordEvents(ws);
    let error: unknown;
    ws.onerror = (event) => {
      error = (event as unknown as { error: unknown }).error;
    };
    const event = await once<CloseEvent>(ws, "close");
    expect(log).toEqual(["error", "close"]);
    expect(event.code).toBe(1006);
    expect(error).toMatchObject({ code: "WS_ERR_UNEXPECTED_STATUS", statusCode: 404 });
  });

  it("keeps frames that arrive in the same packet as the 101", async () => {
    server = await scriptedServer(async (peer) => {
      const request = await peer.readRequest();
      peer.write(Buffer.concat([Buffer.from(ok(request)), Buffer.from([0x81, 0x02, 0x68, 0x69])]));
    });
    const conn = await connect(server.url);
    const message = await new Promise((resolve) => conn.once("message", resolve));
    expect(message).toBe("hi");
    conn.terminate();
  });
});

// SECURITY.md rows 1, 2, 3 and 10 from the client's side: a hostile server's 101 response.
describe("hostile handshake responses (SECURITY rows 1, 2, 3, 10)", () => {
  it("row 1: thousands of extra header lines neither hide Upgrade nor crash", async () => {
    // More lines than Node's default maxHeadersCount (2000), still under the 16 KiB head limit.
    const junk = Array.from({ length: 2200 }, (_, i) => `a${i % 10}: b\r\n`).join("");
    server = await scriptedServer(async (peer) => {
      const request = await peer.readRequest();
      peer.write(ok(request, junk));
    });
    const conn = await connect(server.url, { perMessageDeflate: false });
    expect(conn.readyState).toBe(1);
    conn.terminate();
  });

  it("row 1: repeated Upgrade or Connection headers are refused with a clear error", async () => {
    const { error, socketClosed } = await failing((r) => ok(r, "Upgrade: h2c\r\n"));
    expect(error.code).toBe("WS_ERR_INVALID_HANDSHAKE");
    await socketClosed;
  });

  it("row 2: a pathological Sec-WebSocket-Protocol is refused, parsed in linear time", async () => {
    const { error, socketClosed } = await failing(
      (r) => ok(r, `Sec-WebSocket-Protocol: ${"chat,".repeat(2500)}\r\n`),
      { protocols: ["chat"] },
    );
    expect(error.code).toBe("WS_ERR_INVALID_HANDSHAKE");
    await socketClosed;
  });

  it("row 3: extension parameters named __proto__ or constructor are refused without pollution", async () => {
    const { error, socketClosed } = await failing((r) =>
      ok(r, "Sec-WebSocket-Extensions: permessage-deflate; __proto__=1; constructor; hasOwnProperty=2\r\n"),
    );
    expect(error.code).toBe("WS_ERR_INVALID_HANDSHAKE");
    expect(({} as Record<string, unknown>)["1"]).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, "constructor")).toBe(true);
    expect(typeof ({} as { hasOwnProperty: unknown }).hasOwnProperty).toBe("function");
    await socketClosed;
  });

  it("row 10: a non-ASCII or control byte in Sec-WebSocket-Protocol is refused, not thrown", async () => {
    for (const value of ["ch\u00e4t", "chat\u0001", "chat\u00ff\u00fe"]) {
      const { error, socketClosed } = await failing((r) => ok(r, `Sec-WebSocket-Protocol: ${value}\r\n`), {
        protocols: ["chat"],
      });
      expect(error.code).toBe("WS_ERR_INVALID_HANDSHAKE");
      await socketClosed;
      await server?.close();
      server = undefined;
    }
  });
});
