// Settings every build shares: Node 20, one bundle per entry, source maps, a clean dist.
const common = { sourcemap: true, clean: true, target: "node20", splitting: false, treeshake: true };

// How every published package is built: ESM as .mjs and CommonJS as .cjs, each with its own
// declarations (tooling/scripts/esm-dts.mjs renames the ESM .d.ts to .d.mts after the build,
// because tsup's declaration worker cannot receive an outExtension function).
export function libraryConfig(entry, overrides = {}) {
  return {
    ...common,
    entry,
    format: ["esm", "cjs"],
    outExtension: ({ format }) => ({ js: format === "esm" ? ".mjs" : ".cjs" }),
    // Members marked @internal are shared between modules of a package, not part of its API.
    dts: { compilerOptions: { stripInternal: true } },
    ...overrides,
  };
}

// A Node program (an app's entry or a package's bin): ESM only, no declarations.
export function programConfig(entry, overrides = {}) {
  return {
    ...common,
    entry,
    format: ["esm"],
    outExtension: () => ({ js: ".mjs" }),
    ...overrides,
  };
}
