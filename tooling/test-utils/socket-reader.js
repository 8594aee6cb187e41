// Reading a raw socket in tests: exact-size reads with an optional deadline, EOF tracking, and a
// frame decoder written independently of @ws/codec (like the encoder in frames.js). The server's
// hand-made client and the client's scripted server both read through it.

/** Buffers what a socket receives and hands it out in exact pieces. */
export class SocketReader {
  #chunks = [];
  #length = 0;
  #ended = false;
  #wake = null;

  constructor(socket) {
    this.socket = socket;
    socket.on("data", (chunk) => {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
      this.#notify();
    });
    socket.on("end", () => this.#end());
    socket.on("error", () => this.#end());
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.#end();
        resolve();
      }),
    );
  }

  /** Bytes received and not taken yet. */
  get buffered() {
    return this.#length;
  }

  /** The peer ended, or the socket failed or closed. */
  get ended() {
    return this.#ended;
  }

  /** Waits until `n` bytes are buffered: true, or false at EOF; rejects past `deadline` (ms epoch). */
  async need(n, deadline = Infinity) {
    while (this.#length < n) {
      if (this.#ended) return false;
      await this.#nextData(deadline);
    }
    return true;
  }

  /** Takes exactly `n` buffered bytes (call `need(n)` first). */
  take(n) {
    const parts = [];
    let needed = n;
    while (needed > 0) {
      const head = this.#chunks[0];
      if (head.length <= needed) {
        parts.push(head);
        this.#chunks.shift();
        needed -= head.length;
      } else {
        parts.push(head.subarray(0, needed));
        this.#chunks[0] = head.subarray(needed);
        needed = 0;
      }
    }
    this.#length -= n;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }

  /** The bytes before `delimiter` (which is consumed), or null at EOF; rejects past `deadline`. */
  async readUntil(delimiter, deadline = Infinity) {
    for (;;) {
      const all = this.#joined();
      const end = all.indexOf(delimiter);
      if (end !== -1) {
        const before = this.take(end);
        this.take(delimiter.length);
        return before;
      }
      if (this.#ended) return null;
      await this.#nextData(deadline);
    }
  }

  /** Everything until EOF; rejects past `deadline`. */
  async readAll(deadline = Infinity) {
    while (!this.#ended) await this.#nextData(deadline);
    return this.take(this.#length);
  }

  /** Waits for EOF; rejects past `deadline`. */
  async waitEnded(deadline = Infinity) {
    while (!this.#ended) await this.#nextData(deadline);
  }

  #joined() {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#length)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  #end() {
    this.#ended = true;
    this.#notify();
  }

  #notify() {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #nextData(deadline) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.reject(new Error("timed out waiting for data"));
    return new Promise((resolve, reject) => {
      const timer = Number.isFinite(remaining)
        ? setTimeout(() => {
            this.#wake = null;
            reject(new Error("timed out waiting for data"));
          }, remaining)
        : undefined;
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/**
 * Reads one frame (RFC 6455 §5.2) and unmasks its payload. Resolves to null when the socket ends
 * before a whole frame; rejects past `deadline`.
 */
export async function readTestFrame(reader, deadline = Infinity) {
  if (!(await reader.need(2, deadline))) return null;
  const head = reader.take(2);
  const first = head[0];
  const second = head[1];
  let length = second & 0x7f;
  if (length === 126) {
    if (!(await reader.need(2, deadline))) return null;
    length = reader.take(2).readUInt16BE(0);
  } else if (length === 127) {
    if (!(await reader.need(8, deadline))) return null;
    length = Number(reader.take(8).readBigUInt64BE(0));
  }
  const masked = (second & 0x80) !== 0;
  if (!(await reader.need((masked ? 4 : 0) + length, deadline))) return null;
  const maskKey = masked ? Buffer.from(reader.take(4)) : Buffer.alloc(0);
  const payload = Buffer.from(reader.take(length));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= maskKey[i & 3];
  return {
    fin: (first & 0x80) !== 0,
    rsv1: (first & 0x40) !== 0,
    rsv2: (first & 0x20) !== 0,
    rsv3: (first & 0x10) !== 0,
    opcode: first & 0x0f,
    masked,
    maskKey,
    payload,
  };
}
