// The throwaway copy of the workspace that a release is tried on: its files as they are now
// (tracked and untracked, not ignored), committed on a new `main`, installed from pnpm's store.
// Nothing the release changes (versions, changelogs, dist) touches the real workspace.
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./run.mjs";

export const root = fileURLToPath(new URL("../../..", import.meta.url));

export async function copyWorkspace(dest) {
  const { stdout } = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root });
  for (const file of stdout.split("\0")) {
    // A file deleted in the work tree but not yet in the index is listed by --cached.
    if (file === "" || !existsSync(join(root, file))) continue;
    mkdirSync(dirname(join(dest, file)), { recursive: true });
    copyFileSync(join(root, file), join(dest, file));
  }
  await git(dest, "init", "-q", "-b", "main");
  await commit(dest, "the workspace as the release test found it");
}

export async function commit(dir, message) {
  await git(dir, "add", "-A");
  await git(dir, "-c", "user.name=release-test", "-c", "user.email=release-test@localhost", "commit", "-q", "--allow-empty", "-m", message);
}

function git(cwd, ...args) {
  return run("git", args, { cwd });
}
