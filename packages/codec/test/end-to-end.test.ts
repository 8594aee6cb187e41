// A client Protocol and a server Protocol wired back to back through memory, with permessage-deflate
// negotiated from real header text: the whole codec, both roles, no sockets.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Protocol, formatExtensionHeader, parseExtensionHeader, type ProtocolOptions } from "../src/index.js";
import { PerMessageDeflate, acceptResponse, createOffer, negotiateServer } from "../src/deflate/index.js";
import type { PerMessageDeflateOptions } from "../src/deflate/index.js";

interface Side {
  protocol: Protocol;
  received: Array<{ data: Uint8Array; isBinary: boolean }>;
  closes: Array<[number, string]>;
  errors: string[];
  transportClosed: boolean;
}

function pair(
  deflate: { client: PerMessageDeflateOptions; server: PerMessageDeflateOptions } | null,
  limits: Partial<ProtocolOptions> = {},
) {
  let clientCompression = null;
  let serverCompression = null;
  if (deflate) {
    // The handshake as the server and client shells perform it, through header text.
    const offerHeader = formatExtensionHeader([createOffer(deflate.client)]);
    const negotiated = negotiateServer(parseExtensionHeader(offerHeader)!, deflate.server);
    if (!negotiated) throw new Error("server declined the offer");
    const responseHeader = formatExtensionHeader([negotiated.response]);
    const clientParams = acceptResponse(parseExtensionHeader(responseHeader)!, deflate.client);
    expect(clientParams).toEqual(negotiated.params);
    serverCompression = new PerMessageDeflate(negotiated.params, "server", deflate.server);
    clientCompression = new PerMessageDeflate(clientParams, "client", deflate.client);
  }
  const make = (role: "client" | "server", compression: PerMessageDeflate | null, deliver: (chunk: Uint8Array) => void) => {
    const side: Side = { protocol: undefined as unknown as Protocol, received: [], closes: [], errors: [], transportClosed: false };
    side.protocol = new Protocol(
      { role, compression, ...limits },
      {
        // Copy, as a socket would: the receiver unmasks in place.
        write: (chunks) => chunks.forEach((chunk) => deliver(chunk.slice())),
        onMessage: (data, isBinary) => side.received.push({ data: new Uint8Array(data), isBinary }),
        onClose: (code, reason) => side.closes.push([code, reason]),
        onError: (error) => side.errors.push(error.code),
        closeTransport: () => {
          side.transportClosed = true;
        },
      },
    );
    return side;
  };
  // Delivery is asynchronous, like a network, so compression callbacks interleave realistically.
  const client: Side = make("client", clientCompression, (chunk) => setImmediate(() => server.protocol.receive(chunk)));
  const server: Side = make("server", serverCompression, (chunk) => setImmediate(() => client.protocol.receive(chunk)));
  return { client, server };
}

async function until(condition: () => boolean, what: string) {
  for (let i = 0; i < 2000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

const messages = [
  { data: new Uint8Array(0), isBinary: false },
  { data: new TextEncoder().encode('{"type":"hello","items":[1,2,3]}'.repeat(40)), isBinary: false },
  { data: new Uint8Array(70_000).map((_, i) => i % 251), isBinary: true },
  { data: new TextEncoder().encode("ünïcödé ✓ 𝄞".repeat(500)), isBinary: false },
  { data: new Uint8Array(3).fill(7), isBinary: true },
];

describe("client and server protocols back to back", () => {
  const configurations: Array<[string, { client: PerMessageDeflateOptions; server: PerMessageDeflateOptions } | null]> = [
    ["no compression", null],
    ["deflate with context takeover", { client: {}, server: { threshold: 16 } }],
    [
      "deflate, no context takeover, small windows",
      {
        client: { clientMaxWindowBits: 9, serverNoContextTakeover: true, threshold: 0 },
        server: { serverMaxWindowBits: 10, clientNoContextTakeover: true, threshold: 0 },
      },
    ],
  ];

  for (const [name, deflate] of configurations) {
    it(`echoes every message intact and closes cleanly (${name})`, async () => {
      const { client, server } = pair(deflate);
      for (const message of messages) client.protocol.send(message.data, message.isBinary);
      await until(() => server.received.length === messages.length, "server to receive");
      for (const message of server.received) server.protocol.send(message.data, message.isBinary);
      await until(() => client.received.length === messages.length, "client to receive the echoes");
      expect(client.received).toEqual(messages);

      client.protocol.close(1000, "done");
      await until(() => server.transportClosed, "the server to close the transport");
      expect(server.closes).toEqual([[1000, "done"]]);
      await until(() => client.closes.length === 1, "the client to see the echoed close");
      expect(client.closes).toEqual([[1000, ""]]);
      expect(client.transportClosed).toBe(false); // the client waits for the server's TCP close
      expect([client.protocol.state, server.protocol.state]).toEqual(["closed", "closed"]);
      expect([...client.errors, ...server.errors]).toEqual([]);
    });
  }

  it("streams a fragmented compressed message and delivers it whole", async () => {
    const { client, server } = pair({ client: {}, server: {} });
    const parts = ["first part, ", "second part, ", "last part"].map((part) => new TextEncoder().encode(part));
    parts.forEach((part, i) => client.protocol.sendFragment(part, false, i === parts.length - 1));
    await until(() => server.received.length === 1, "the message");
    expect(new TextDecoder().decode(server.received[0]!.data)).toBe("first part, second part, last part");
  });

  it("ends a compressed message that inflates past maxPayload with 1009", async () => {
    const { client, server } = pair({ client: {}, server: {} }, { maxPayload: 64 * 1024 });
    client.protocol.send(new Uint8Array(1024 * 1024), true);
    await until(() => server.errors.length === 1, "the server to fail the connection");
    expect(server.errors).toEqual(["WS_ERR_MESSAGE_TOO_BIG"]);
    await until(() => client.closes.length === 1, "the client to receive the close frame");
    expect(client.closes[0]![0]).toBe(1009);
  });
});

describe("memory under hostile input", () => {
  it("never holds more than maxPayload for a message, however the bytes arrive", () => {
    const maxPayload = 64 * 1024;
    // Hostile but well-formed streams: endless fragments, huge declared lengths fed slowly.
    const stream = fc.array(
      fc.record({
        opcode: fc.constantFrom(0, 1, 2, 9),
        fin: fc.boolean(),
        length: fc.oneof(fc.nat(300), fc.integer({ min: 1000, max: 40_000 })),
      }),
      { maxLength: 30 },
    );
    fc.assert(
      fc.property(stream, fc.integer({ min: 1, max: 4096 }), (frames, chunkSize) => {
        let held = 0;
        const protocol = new Protocol(
          { role: "client", maxPayload },
          { write() {}, onMessage() {}, onClose() {}, onError() {}, closeTransport() {} },
        );
        const receiver = (protocol as unknown as { receiver: { message: { byteLength: number }; framePayload: { byteLength: number } } })
          .receiver;
        for (const frame of frames) {
          const header =
            frame.length < 126
              ? Uint8Array.of((frame.fin || frame.opcode === 9 ? 0x80 : 0) | frame.opcode, frame.length)
              : Uint8Array.of((frame.fin ? 0x80 : 0) | frame.opcode, 126, frame.length >> 8, frame.length & 0xff);
          const bytes = new Uint8Array(header.length + frame.length);
          bytes.set(header);
          for (let offset = 0; offset < bytes.length; offset += chunkSize) {
            protocol.receive(bytes.subarray(offset, offset + chunkSize));
            held = Math.max(held, receiver.message.byteLength + receiver.framePayload.byteLength);
          }
        }
        expect(held).toBeLessThanOrEqual(maxPayload);
      }),
      { numRuns: 300 },
    );
  });
});
