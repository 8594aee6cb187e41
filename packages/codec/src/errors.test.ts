import { describe, expect, it, vi } from "vitest";
import { ErrorCode, WebSocketError } from "./errors.js";

describe("WebSocketError", () => {
  it("carries a stable code, the close code and a message", () => {
    const error = new WebSocketError(ErrorCode.InvalidUtf8, 1007, "bad text");
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: "WebSocketError", code: "WS_ERR_INVALID_UTF8", closeCode: 1007, message: "bad text" });
  });

  it("recognises instances made by another copy of the class (another bundle or version)", async () => {
    // A fresh module instance stands in for the copy bundled into @ws/codec/deflate.
    vi.resetModules();
    const other = await import("./errors.js");
    expect(other.WebSocketError).not.toBe(WebSocketError);
    const foreign = new other.WebSocketError(ErrorCode.MessageTooBig, 1009, "too big");
    expect(foreign instanceof WebSocketError).toBe(true);
    expect(new Error("plain") instanceof WebSocketError).toBe(false);
    expect((null as unknown as object) instanceof WebSocketError).toBe(false);
    expect({ code: "WS_ERR_MESSAGE_TOO_BIG", closeCode: 1009 } instanceof WebSocketError).toBe(false);
  });
});
