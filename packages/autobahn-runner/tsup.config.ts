import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    // ESM as .mjs and CommonJS as .cjs; tooling/scripts/esm-dts.mjs renames the ESM types to .d.mts.
    outExtension: ({ format }) => ({ js: format === "esm" ? ".mjs" : ".cjs" }),
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    splitting: false,
    treeshake: true,
  },
  {
    // The `ws-autobahn` bin: ESM only (it uses top-level await), no types.
    entry: ["src/cli.ts"],
    format: ["esm"],
    outExtension: () => ({ js: ".mjs" }),
    banner: { js: "#!/usr/bin/env node" },
    sourcemap: true,
    clean: false,
    target: "node20",
    splitting: false,
    treeshake: true,
  },
]);
