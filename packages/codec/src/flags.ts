/**
 * Booleans packed into one number field. Node 20 runs V8 without pointer compression, so every
 * field of an object is 8 bytes, and the protocol objects of an idle connection are mostly their
 * fields: a dozen booleans as bits of one field save 88 bytes a connection.
 *
 * The class declares each flag (`declare private closeSent: boolean`) and keeps a `flags` number;
 * `defineFlags` puts accessors for them on its prototype, which optimized code inlines to a mask.
 */
export function defineFlags(prototype: object, bits: Record<string, number>): void {
  for (const [name, bit] of Object.entries(bits)) {
    Object.defineProperty(prototype, name, {
      get(this: { flags: number }): boolean {
        return (this.flags & bit) !== 0;
      },
      set(this: { flags: number }, on: boolean): void {
        this.flags = on ? this.flags | bit : this.flags & ~bit;
      },
      configurable: true,
    });
  }
}
