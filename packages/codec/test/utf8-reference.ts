// The reference the UTF-8 validator is tested against: WHATWG's fatal UTF-8 decoder, which is
// written independently of ours.

/** Whether `input` is well-formed UTF-8, by the fatal TextDecoder. */
export function decoderAccepts(input: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(input);
    return true;
  } catch {
    return false;
  }
}
