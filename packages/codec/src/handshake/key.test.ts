import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { WEBSOCKET_GUID, computeAccept, generateKey, isValidKey } from "./key.js";

describe("computeAccept", () => {
  it("matches the example of RFC 6455 §1.3", () => {
    // The RFC's value; also what `openssl sha1 -binary | base64` gives for key + GUID.
    expect(WEBSOCKET_GUID).toBe("258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    expect(computeAccept("dGhlIHNhbXBsZSBub25jZQ==")).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  it("depends on every character of the key", () => {
    expect(computeAccept("dGhlIHNhbXBsZSBub25jZA==")).not.toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  it("agrees with a Hash object's SHA-1 for generated keys (whichever hashing call the Node has)", () => {
    for (let i = 0; i < 200; i++) {
      const key = generateKey();
      expect(computeAccept(key)).toBe(createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64"));
    }
  });
});

describe("generateKey", () => {
  it("returns valid keys that decode to 16 bytes", () => {
    const key = generateKey();
    expect(isValidKey(key)).toBe(true);
    expect(Buffer.from(key, "base64")).toHaveLength(16);
  });

  it("does not repeat across pool refills", () => {
    // 256 keys per pool: 2000 keys cross several refills.
    const keys = new Set(Array.from({ length: 2000 }, generateKey));
    expect(keys.size).toBe(2000);
    for (const key of keys) expect(isValidKey(key)).toBe(true);
  });
});

describe("isValidKey", () => {
  it("accepts base64 of exactly 16 bytes", () => {
    expect(isValidKey("dGhlIHNhbXBsZSBub25jZQ==")).toBe(true);
    expect(isValidKey("AAAAAAAAAAAAAAAAAAAAAA==")).toBe(true);
    expect(isValidKey("+/+/+/+/+/+/+/+/+/+/+w==")).toBe(true);
  });

  it.each([
    ["empty", ""],
    ["15 bytes", Buffer.alloc(15).toString("base64")],
    ["17 bytes", Buffer.alloc(17).toString("base64")],
    ["no padding", "dGhlIHNhbXBsZSBub25jZQ"],
    ["single padding", "dGhlIHNhbXBsZSBub25jZQA="],
    ["padding in the middle", "dGhlIHNhbXBsZSBub25j=Q=="],
    ["base64url alphabet", "dGhlIHNhbXBsZSBub25jZ-=="],
    ["space", "dGhlIHNhbXBsZSBub25jZ =="],
    ["non-ASCII", "dGhlIHNhbXBsZSBub25jZ\u00e9=="],
    ["surrounding whitespace", " dGhlIHNhbXBsZSBub25jZQ=="],
  ])("rejects %s", (_label, key) => {
    expect(isValidKey(key)).toBe(false);
  });

  it("rejects non-strings without throwing", () => {
    for (const value of [undefined, null, 42, ["dGhlIHNhbXBsZSBub25jZQ=="], {}]) {
      expect(isValidKey(value as unknown as string)).toBe(false);
    }
  });
});
