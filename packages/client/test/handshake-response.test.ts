// The 101 response must answer the request that was sent (issue 12, item 9; RFC 6455 §4.1, §9.1):
// an extension the client never offered, or an HTTP/1.0 status line, fails the connection.
import { afterEach, describe, expect, it } from "vitest";
import { ClientError, connect, type ClientOptions } from "../src/index.js";
import { acceptFor, scriptedServer, text, type ScriptedServer, type UpgradeRequest } from "./helpers.js";

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function response(request: UpgradeRequest, extra = "", statusLine = "HTTP/1.1 101 Switching Protocols"): string {
  return (
    `${statusLine}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Accept: ${acceptFor(request.headers["sec-websocket-key"]!)}\r\n${extra}\r\n`
  );
}

/** Serves `respond(request)`; resolves with the client's error and whether it closed TCP. */
async function failing(respond: (request: UpgradeRequest) => string, options: ClientOptions = {}) {
  let socketClosed!: Promise<void>;
  server = await scriptedServer(async (peer) => {
    socketClosed = peer.closed;
    peer.write(respond(await peer.readRequest()));
  });
  const error = await connect(server.url, options).then(
    (ws) => {
      ws.terminate();
      throw new Error("connect() should have failed");
    },
    (caught: unknown) => caught as ClientError,
  );
  expect(error).toBeInstanceOf(ClientError);
  expect(error.code).toBe("WS_ERR_INVALID_HANDSHAKE");
  await socketClosed;
  return error;
}

describe("extensions in the 101 must be ones the client offered (RFC 6455 §9.1)", () => {
  it.each([
    ["after permessage-deflate", "permessage-deflate, x-unknown"],
    ["before permessage-deflate", "x-unknown, permessage-deflate"],
    ["alone", "x-unknown"],
    ["on a second header line", "permessage-deflate\r\nSec-WebSocket-Extensions: x-unknown"],
    ["with parameters", "permessage-deflate; client_max_window_bits=10, x-webkit-deflate-frame; max_window_bits=10"],
  ])("an extension that was not offered, %s, fails the connection", async (_name, value) => {
    const error = await failing((r) => response(r, `Sec-WebSocket-Extensions: ${value}\r\n`));
    expect(error.message).toMatch(/x-(unknown|webkit-deflate-frame)/);
    expect(error.message).toMatch(/not offered|not requested/);
  });

  it("permessage-deflate in another letter case is the one offered", async () => {
    server = await scriptedServer(async (peer) => {
      const request = await peer.readRequest();
      expect(request.headers["sec-websocket-extensions"]).toMatch(/^permessage-deflate/);
      peer.write(response(request, "Sec-WebSocket-Extensions: PerMessage-Deflate\r\n"));
      peer.write(text("hello"));
    });
    const ws = await connect(server.url);
    expect(ws.extensions.toLowerCase()).toBe("permessage-deflate");
    ws.terminate();
  });
});

describe("the status line must be HTTP/1.1 101 (RFC 6455 §4.1)", () => {
  it("HTTP/1.0 101 fails the connection", async () => {
    const error = await failing((r) => response(r, "", "HTTP/1.0 101 Switching Protocols"));
    expect(error.message).toMatch(/HTTP\/1\.1/);
  });

  it("HTTP/1.1 101 is accepted", async () => {
    server = await scriptedServer(async (peer) => {
      peer.write(response(await peer.readRequest()));
    });
    const ws = await connect(server.url, { perMessageDeflate: false });
    ws.terminate();
  });

  it("an HTTP/1.0 error status is still reported as that status", async () => {
    server = await scriptedServer(async (peer) => {
      await peer.readRequest();
      peer.write("HTTP/1.0 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    });
    const error = (await connect(server.url).catch((caught: unknown) => caught)) as ClientError;
    expect(error.code).toBe("WS_ERR_UNEXPECTED_STATUS");
    expect(error.statusCode).toBe(403);
  });
});
