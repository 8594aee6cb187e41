/** Test-only helpers for the deflate tests. */
import type { ExtensionOffer } from "../extension.js";
import type { PerMessageDeflate } from "./per-message-deflate.js";

/** Parses trusted test text like `permessage-deflate; a; b=1` (no quoting) into an entry. */
export function entry(text: string): ExtensionOffer {
  const [name = "", ...parts] = text.split(";").map((part) => part.trim());
  const params = Object.create(null) as Record<string, Array<string | true>>;
  for (const part of parts) {
    const eq = part.indexOf("=");
    const key = eq === -1 ? part : part.slice(0, eq);
    const value: string | true = eq === -1 ? true : part.slice(eq + 1);
    (params[key] ??= []).push(value);
  }
  return { name, params };
}

export function concat(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks);
}

export function compress(pmd: PerMessageDeflate, data: Uint8Array, fin = true): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pmd.compress(data, fin, (error, chunks) => (error ? reject(error) : resolve(concat(chunks))));
  });
}

export function decompress(pmd: PerMessageDeflate, data: Uint8Array, fin = true, maxPayload = 1 << 30): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pmd.decompress(data, fin, maxPayload, (error, chunks) => (error ? reject(error) : resolve(concat(chunks))));
  });
}

/** About `size` bytes of JSON-like text that compresses the way chat/API messages do. */
export function jsonMessage(seed: number, size = 1024): Buffer {
  const items: string[] = [];
  let text = "";
  for (let i = 0; text.length < size; i++) {
    items.push(`{"id":${seed * 31 + i},"sku":"SKU-${(seed * 7 + i) % 997}","qty":${i % 5},"price":"${((i * 3.17) % 100).toFixed(2)}"}`);
    text = `{"type":"update","seq":${seed},"items":[${items.join(",")}]}`;
  }
  return Buffer.from(text.slice(0, size));
}
