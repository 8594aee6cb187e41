// Proves a user can install one package alone: pack it and its workspace dependencies as a user
// would receive them, install just those tarballs with npm into an empty folder (no workspace, no
// registry), and run a script that imports it there.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function run(command, args, cwd) {
  try {
    return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${error.stdout ?? ""}\n${error.stderr ?? ""}`);
  }
}

// Inside `pnpm run`, npm_execpath is pnpm itself; elsewhere fall back to pnpm on the PATH.
function pnpm(args, cwd) {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath)) return run(process.execPath, [execPath, ...args], cwd);
  return run("pnpm", args, cwd);
}

export { encodeTestFrame } from "./frames.js";
export { SocketReader, readTestFrame } from "./socket-reader.js";

export function installAlone(packageDirs, script, cjsScript) {
  const dir = mkdtempSync(join(tmpdir(), "ws-install-alone-"));
  const tarballs = packageDirs.map((packageDir) => {
    const before = new Set(readdirSync(dir));
    pnpm(["pack", "--pack-destination", dir], packageDir);
    const created = readdirSync(dir).filter((name) => name.endsWith(".tgz") && !before.has(name));
    if (created.length !== 1) throw new Error(`pnpm pack in ${packageDir} made ${created.length} tarballs`);
    return join(dir, created[0]);
  });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "install-alone-check", private: true }));
  run("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", "--offline", ...tarballs], dir);
  writeFileSync(join(dir, "check.mjs"), script);
  let stdout = run(process.execPath, ["check.mjs"], dir);
  if (cjsScript !== undefined) {
    writeFileSync(join(dir, "check.cjs"), cjsScript);
    stdout += run(process.execPath, ["check.cjs"], dir);
  }
  const installed = readdirSync(join(dir, "node_modules", "@ws")).sort();
  return { dir, stdout, installed };
}
export { MATRIX_BOUND, MATRIX_KINDS, MATRIX_LIMITS, MATRIX_SLACK, cellName, matrixCells, matrixTable, runMatrixCell } from "./memory-matrix.js";
export { selfSignedCertificate } from "./certificate.js";
export { RedisServer } from "./redis-server.js";
