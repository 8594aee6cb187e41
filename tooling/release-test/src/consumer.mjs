// Brand-new projects outside the workspace, as a user makes them: `npm install` of one package
// (its @ws dependencies come from the local registry only, through a scoped registry setting),
// then checks that load, type-check and run it.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, run } from "./run.mjs";
import { root } from "./workspace.mjs";

const tsc = join(root, "node_modules/typescript/bin/tsc");
// The same @types/node as the workspace builds with (item 4: the packages' types need it).
const typesNode = JSON.parse(readFileSync(join(root, "packages/server/package.json"), "utf8"))
  .devDependencies["@types/node"];

/** Makes `dir` a new npm project and installs `packages` into it; resolves with npm's output. */
export async function installProject(dir, registryUrl, packages) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true }, null, 2));
  writeFileSync(join(dir, ".npmrc"), `@ws:registry=${registryUrl}\n`);
  return run("npm", ["install", "--no-audit", "--no-fund", ...packages, `@types/node@${typesNode}`], {
    cwd: dir,
    env: cleanEnv({ npm_config_update_notifier: "false" }),
  });
}

/** The @ws packages installed in a project's node_modules. */
export function installedWsPackages(dir) {
  return readdirSync(join(dir, "node_modules/@ws")).sort();
}

/**
 * Compiles `source` (a fixture file) under strict, with no skipLibCheck, once per resolution:
 * node16 (as ESM and as CommonJS), bundler and node10, in parallel. Resolves with [mode, result]
 * pairs, the result being tsc's exit code and output.
 */
export async function typecheck(dir, source) {
  const fixture = join(root, "tooling/release-test/fixtures", source);
  for (const ext of [".ts", ".mts", ".cts"]) copyFileSync(fixture, join(dir, `check${ext}`));
  const common = { strict: true, noEmit: true, skipLibCheck: false, target: "ES2022", lib: ["ES2022"], types: ["node"] };
  const modes = {
    // .mts is ESM and .cts CommonJS under node16, so one run checks both conditions.
    node16: { module: "node16", moduleResolution: "node16", files: ["check.mts", "check.cts"] },
    bundler: { module: "esnext", moduleResolution: "bundler", files: ["check.ts"] },
    node10: { module: "commonjs", moduleResolution: "node10", files: ["check.ts"] },
  };
  return Promise.all(
    Object.entries(modes).map(async ([mode, { files, ...compilerOptions }]) => {
      const config = `tsconfig.${mode}.json`;
      writeFileSync(join(dir, config), JSON.stringify({ compilerOptions: { ...common, ...compilerOptions }, files }, null, 2));
      const result = await run(process.execPath, [tsc, "-p", config], { cwd: dir, allowFailure: true });
      return [mode, `${result.code} ${result.stdout}${result.stderr}`.trim()];
    }),
  );
}

/** Runs an ES module and a CommonJS script that load `name`; resolves with their outputs. */
export async function loadBothWays(dir, name) {
  writeFileSync(join(dir, "load.mjs"), `const m = await import(${JSON.stringify(name)});\nconsole.log(Object.keys(m).sort().join(","));\n`);
  writeFileSync(join(dir, "load.cjs"), `const m = require(${JSON.stringify(name)});\nconsole.log(Object.keys(m).sort().join(","));\n`);
  const esm = await run(process.execPath, ["load.mjs"], { cwd: dir });
  const cjs = await run(process.execPath, ["load.cjs"], { cwd: dir });
  return { esm: esm.stdout.trim().split(","), cjs: cjs.stdout.trim().split(",") };
}
