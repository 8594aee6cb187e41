// The release path on a real registry (issue 14): Verdaccio on 127.0.0.1, the version step and the
// publish command of release.yml on a throwaway copy of the workspace, then every published tarball
// linted, and each of client, server and runner installed alone in a new project and used there.
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installedWsPackages, installProject, loadBothWays, typecheck } from "./consumer.mjs";
import { startRegistry } from "./registry.mjs";
import { readmeExample, replaceIn } from "./readme.mjs";
import { cleanEnv, run } from "./run.mjs";
import { commit, copyWorkspace, root } from "./workspace.mjs";

const PUBLISHED = ["@ws/autobahn-runner", "@ws/client", "@ws/codec", "@ws/redis", "@ws/server"];
// The first release is 0.1.0 for every package (the root README's "Releases" says why).
const FIRST_VERSION = "0.1.0";
const PROJECTS = { "server-project": "@ws/server", "client-project": "@ws/client", "runner-project": "@ws/autobahn-runner" };
const bin = (name) => join(root, "tooling/release-test/node_modules/.bin", name);

let tmp;
let registry;
let workspace;
let releaseLog;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ws-release-"));
  mkdirSync(join(tmp, "registry"));
  registry = await startRegistry(join(tmp, "registry"));
  workspace = join(tmp, "workspace");
  await copyWorkspace(workspace);
  const pnpmEnv = cleanEnv({ CI: "true", TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" });
  await run("pnpm", ["install", "--frozen-lockfile", "--offline"], { cwd: workspace, env: pnpmEnv });

  // What release.yml's changesets action does: `version` (the "Version packages" pull request,
  // merged), then its `publish` command, authenticated as setup-node sets it up: an npmrc that
  // reads NODE_AUTH_TOKEN.
  await run("pnpm", ["changeset", "version"], { cwd: workspace, env: pnpmEnv });
  await commit(workspace, "chore: version packages");
  const host = new URL(registry.url).host;
  writeFileSync(join(tmp, "npmrc"), `registry=${registry.url}\n//${host}/:_authToken=\${NODE_AUTH_TOKEN}\n`);
  const workflow = readFileSync(join(root, ".github/workflows/release.yml"), "utf8");
  const publish = /^\s+publish: (.+)$/m.exec(workflow)[1].trim().split(/\s+/);
  expect(publish[0]).toBe("pnpm");
  releaseLog = await run(publish[0], publish.slice(1), {
    cwd: workspace,
    env: { ...pnpmEnv, NPM_CONFIG_USERCONFIG: join(tmp, "npmrc"), npm_config_registry: registry.url, NODE_AUTH_TOKEN: registry.token },
  });

  // A user's new projects, each installing one package; npm's waits are network waits, so at once.
  await Promise.all(
    Object.entries(PROJECTS).map(([project, name]) => installProject(join(tmp, project), registry.url, [name])),
  );
});

afterAll(async () => {
  await registry?.stop();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

async function packument(name) {
  const response = await fetch(new URL(name.replace("/", "%2f"), registry.url));
  expect(response.status, `${name} on the registry`).toBe(200);
  return response.json();
}

describe("the release", () => {
  it("makes every package's first version 0.1.0 and writes a changelog that says what it is", () => {
    for (const dir of ["codec", "server", "client", "autobahn-runner", "redis"]) {
      const manifest = JSON.parse(readFileSync(join(workspace, "packages", dir, "package.json"), "utf8"));
      expect(manifest.version, manifest.name).toBe(FIRST_VERSION);
      const changelog = readFileSync(join(workspace, "packages", dir, "CHANGELOG.md"), "utf8");
      expect(changelog).toContain(`## ${FIRST_VERSION}`);
      expect(changelog, `${dir}'s first changelog`).toMatch(/First release/);
      expect(changelog, `${dir}'s first changelog describes no change against an earlier version`).not.toMatch(/used to|no longer|instead of/);
    }
  });

  it("publishes the five packages, with @ws dependencies on the published versions", async () => {
    for (const name of PUBLISHED) {
      const doc = await packument(name);
      expect(Object.keys(doc.versions), name).toEqual([FIRST_VERSION]);
      const manifest = doc.versions[FIRST_VERSION];
      expect(manifest.repository?.url, name).toMatch(/^git\+https:\/\/github\.com\//);
      for (const range of Object.values(manifest.dependencies ?? {})) expect(range).not.toMatch(/^workspace:/);
    }
    expect((await packument("@ws/server")).versions[FIRST_VERSION].dependencies).toEqual({ "@ws/codec": `^${FIRST_VERSION}` });
    expect((await packument("@ws/client")).versions[FIRST_VERSION].dependencies).toEqual({ "@ws/codec": `^${FIRST_VERSION}` });
  });

  describe.each(PUBLISHED)("the published tarball of %s", (name) => {
    let tarball;
    beforeAll(async () => {
      const doc = await packument(name);
      const response = await fetch(doc.versions[FIRST_VERSION].dist.tarball);
      tarball = join(tmp, `${name.replace("/", "-")}.tgz`);
      writeFileSync(tarball, Buffer.from(await response.arrayBuffer()));
    });

    it("has no publint complaint, not even a suggestion", async () => {
      const result = await run(bin("publint"), ["run", tarball, "--level", "suggestion", "--strict"], { allowFailure: true });
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toMatch(/All good!/);
    });

    it("resolves its types in every mode (arethetypeswrong)", async () => {
      const result = await run(bin("attw"), [tarball, "--format", "table-flipped"], { allowFailure: true });
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toMatch(/No problems found/);
    });
  });
});

/** Starts the server README's Quick start (port 0) in the server project; resolves with its URL. */
async function startReadmeServer(dir) {
  const example = replaceIn(readmeExample("packages/server", "## Quick start"), "port: 8080", "port: 0");
  writeFileSync(join(dir, "readme-server.mjs"), example);
  const proc = spawn(process.execPath, ["readme-server.mjs"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const url = await new Promise((resolve, reject) => {
    let output = "";
    proc.stdout.on("data", (chunk) => {
      output += chunk;
      const match = /listening on (ws:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    proc.stderr.on("data", (chunk) => (output += chunk));
    proc.on("exit", (code) => reject(new Error(`the README server exited (${code}):\n${output}`)));
  });
  return { url, stop: () => proc.kill() };
}

/**
 * The checks every project makes of the one package it installed: which @ws packages came with it
 * (never the other side), ESM and CommonJS loading, and a strict TypeScript consumer.
 */
function checkInstalledAlone(dir, name, { installed, other, exports, fixture }) {
  it(`has ${installed.join(", ")}, and no ${other} code`, () => {
    expect(installedWsPackages(dir())).toEqual(installed);
  });

  it("imports it as ESM and requires it as CommonJS", async () => {
    const { esm, cjs } = await loadBothWays(dir(), name);
    expect(esm).toEqual(expect.arrayContaining(exports));
    expect(cjs).toEqual(esm);
  });

  it("type-checks a consumer under strict with node16, bundler and node10 resolution", async () => {
    for (const [mode, result] of await typecheck(dir(), fixture)) expect(result, mode).toBe("0");
  });
}

describe("a project that installs only @ws/server", () => {
  const dir = () => join(tmp, "server-project");
  checkInstalledAlone(dir, "@ws/server", { installed: ["codec", "server"], other: "client", exports: ["createServer", "WebSocketServer"], fixture: "server.ts" });
});

describe("a project that installs only @ws/client", () => {
  const dir = () => join(tmp, "client-project");
  checkInstalledAlone(dir, "@ws/client", { installed: ["client", "codec"], other: "server", exports: ["WebSocket", "connect"], fixture: "client.ts" });

  it("runs the README's WebSocket example against the server README's Quick start, each installed alone", async () => {
    const server = await startReadmeServer(join(tmp, "server-project"));
    try {
      let example = readmeExample("packages/client", "## The WHATWG `WebSocket`");
      example = replaceIn(example, `"wss://echo.example.com/chat"`, JSON.stringify(server.url));
      writeFileSync(join(dir(), "readme-client.mjs"), example);
      const { stdout } = await run(process.execPath, ["readme-client.mjs"], { cwd: dir() });
      expect(stdout).toContain(`received hello from ${server.url}`);
      // A clean close with 1000 (the server's close frame echoes the code; its reason is its own).
      expect(stdout).toMatch(/^closed 1000 .*true$/m);
    } finally {
      server.stop();
    }
  });
});

describe("a project that installs only @ws/autobahn-runner", () => {
  const dir = () => join(tmp, "runner-project");
  const cli = (...args) => run(join(dir(), "node_modules/.bin/ws-autobahn"), args, { cwd: dir(), allowFailure: true });
  checkInstalledAlone(dir, "@ws/autobahn-runner", {
    installed: ["autobahn-runner", "client", "codec"],
    other: "server",
    exports: ["judge", "readReports", "driveClient"],
    fixture: "autobahn-runner.ts",
  });

  it("prints its help from the installed bin", async () => {
    const result = await cli("--help");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: ws-autobahn/);
    expect(result.stdout).toContain("--command");
  });

  it("judges a reports folder outside the monorepo", async () => {
    const reports = join(dir(), "reports");
    cpSync(join(root, "packages/autobahn-runner/test/fixtures/wstest/servers"), reports, { recursive: true });
    const result = await cli("summary", reports, "--allow-list", "/dev/null");
    expect(result.stdout).toMatch(/^Verdict: (PASS|FAIL)/m);
    expect([0, 1]).toContain(result.code);
    const page = await cli("case", reports, "2.9");
    expect(page.code).toBe(0);
    expect(page.stdout).toMatch(/^Case 2\.9: /);
  });

  it("asks for --url or --command instead of looking for a monorepo's echo server", async () => {
    const result = await cli("server", "--engine", "local", "--wstest", "/nonexistent");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--url.*--command|--command.*--url/);
  });
});
