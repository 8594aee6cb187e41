// How wstest is started: in the pinned Docker image (the default) or as a binary on this machine.
// This module only builds command lines; processes.ts runs them.
import { join } from "node:path";

/** The image tag the runner is pinned to (for humans: the digest below is what runs). */
export const AUTOBAHN_IMAGE_TAG = "crossbario/autobahn-testsuite:0.8.2";

/**
 * The manifest digest of {@link AUTOBAHN_IMAGE_TAG}, so a re-pushed tag cannot change the suite
 * under us. This is the digest other projects pin for 0.8.2 (Deno's autobahn scripts, for one); it
 * could not be checked from the machine this was written on (no network). To check or refresh it:
 *
 *     docker buildx imagetools inspect crossbario/autobahn-testsuite:0.8.2   # "Digest: sha256:..."
 *     # or: docker pull crossbario/autobahn-testsuite:0.8.2 &&
 *     #     docker inspect --format '{{index .RepoDigests 0}}' crossbario/autobahn-testsuite:0.8.2
 */
export const AUTOBAHN_IMAGE_DIGEST = "sha256:5d4ba3aa7d6ab2fdbf6606f3f4ecbe4b66f205ce1cbc176d6cdf650157e52242";

/** The image reference `docker run` gets: by digest only. */
export const AUTOBAHN_IMAGE = `crossbario/autobahn-testsuite@${AUTOBAHN_IMAGE_DIGEST}`;

export type Engine = "docker" | "local";
export type WstestMode = "fuzzingclient" | "fuzzingserver";

/** Where the spec and the reports are, on this machine. */
export interface WstestDirs {
  /** Holds the spec file; mounted read-only at /config in Docker. */
  specDir: string;
  /** Reports go to `servers/` or `clients/` in here; mounted at /reports in Docker. */
  reportsDir: string;
}

/** A command to spawn. */
export interface Invocation {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** The container's name, so clean-up can `docker rm -f` it (Docker engine only). */
  containerName?: string;
}

export interface InvocationOptions {
  engine: Engine;
  mode: WstestMode;
  dirs: WstestDirs;
  /** Local engine: the wstest binary. */
  wstest?: string;
  /** Docker engine: the image (default {@link AUTOBAHN_IMAGE}) and the docker binary. */
  image?: string;
  docker?: string;
  containerName?: string;
  /** fuzzingserver on a host without `--network host` (not Linux): the port to publish. */
  port?: number;
  /** Defaults to process.platform; `--network host` works on Linux only. */
  platform?: NodeJS.Platform;
  /** Docker on Linux: run as this user so the reports are not owned by root. */
  user?: { uid: number; gid: number };
}

/** The spec file's name for a mode. */
export function specFileName(mode: WstestMode): string {
  return `${mode}.json`;
}

/** The reports subfolder for a mode, as wstest's own examples name them. */
export function reportsSubdir(mode: WstestMode): string {
  return mode === "fuzzingclient" ? "servers" : "clients";
}

/** The paths as wstest sees them: `outdir` for the spec, and the `-s` argument. */
export function wstestPaths(engine: Engine, mode: WstestMode, dirs: WstestDirs): { outdir: string; spec: string } {
  if (engine === "docker") return { outdir: `/reports/${reportsSubdir(mode)}`, spec: `/config/${specFileName(mode)}` };
  return { outdir: join(dirs.reportsDir, reportsSubdir(mode)), spec: join(dirs.specDir, specFileName(mode)) };
}

/**
 * A URL on this machine as the container reaches it. On Linux the container shares the host's
 * network (`--network host`), so 127.0.0.1 is this machine; elsewhere (Docker Desktop) it is
 * `host.docker.internal`.
 */
export function containerUrl(url: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === "linux") return url;
  const parsed = new URL(url);
  if (["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname)) parsed.hostname = "host.docker.internal";
  return parsed.toString().replace(/\/$/, url.endsWith("/") ? "/" : "");
}

/** The command line that runs wstest in `mode`. */
export function wstestInvocation(options: InvocationOptions): Invocation {
  const { engine, mode, dirs } = options;
  const paths = wstestPaths(engine, mode, dirs);
  // Python 2 block-buffers a piped stdout; progress needs each line as it is printed.
  const env = { PYTHONUNBUFFERED: "1" };
  // -u 0: no built-in web server for the reports (it would take port 8080).
  const wstestArgs = ["-m", mode, "-s", paths.spec, ...(mode === "fuzzingserver" ? ["-u", "0"] : [])];

  if (engine === "local") {
    if (options.wstest === undefined) throw new Error("--engine local needs --wstest PATH");
    return { command: options.wstest, args: wstestArgs, cwd: dirs.reportsDir, env };
  }

  const platform = options.platform ?? process.platform;
  const name = options.containerName ?? `ws-autobahn-${mode}-${process.pid}`;
  const args = ["run", "--rm", "--init", "--name", name];
  if (platform === "linux") {
    args.push("--network", "host");
    if (options.user !== undefined) args.push("--user", `${options.user.uid}:${options.user.gid}`);
  } else if (mode === "fuzzingserver" && options.port !== undefined) {
    args.push("-p", `127.0.0.1:${options.port}:${options.port}`);
  }
  args.push("-e", "PYTHONUNBUFFERED=1");
  args.push("-v", `${dirs.reportsDir}:/reports`, "-v", `${dirs.specDir}:/config:ro`);
  args.push(options.image ?? AUTOBAHN_IMAGE, "wstest", ...wstestArgs);
  return { command: options.docker ?? "docker", args, cwd: dirs.reportsDir, env: {}, containerName: name };
}
