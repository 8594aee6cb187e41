// Runs a command and returns its output; a non-zero exit throws with the command's output, so a
// failing check shows what the tool said.
import { spawn } from "node:child_process";

export function run(command, args, { cwd, env = process.env, allowFailure = false, input } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (chunk) => (stdout += chunk));
    proc.stderr.on("data", (chunk) => (stderr += chunk));
    proc.stdin.end(input);
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      const result = { code, signal, stdout, stderr };
      if (code === 0 || allowFailure) resolve(result);
      else reject(new Error(`${command} ${args.join(" ")} (in ${cwd}) exited ${code ?? signal}\n${stdout}\n${stderr}`));
    });
  });
}

/** The environment without the npm_* / pnpm_* variables of the command that started us. */
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm|pnpm)_/i.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}
