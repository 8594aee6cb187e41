import type { Options } from "tsup";

/** ESM `.mjs` + CommonJS `.cjs` with declarations, for a published package's entries. */
export function libraryConfig(entry: string[], overrides?: Options): Options;
/** ESM-only `.mjs` without declarations, for an app's entry or a package's bin. */
export function programConfig(entry: string[], overrides?: Options): Options;
