// What the Node load generators read of a process from /proc: its resident memory and CPU time.
import { readFileSync } from "node:fs";

/** The resident set size of process `pid` in bytes, from /proc; NaN when unreadable. */
export function rss(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const match = /VmRSS:\s*(\d+)\s*kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds (user + system) the process `pid` has used, from /proc; NaN when unreadable. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU use of this process and of the server `pid` over the measured window: counting starts once
 * `warmupMs` has passed; `read(durationMs)` gives both as a percentage of one core over the window.
 */
export function cpuWindow(pid: number | undefined, warmupMs: number): { read(durationMs: number): { client_cpu_pct: number; server_cpu_pct: number } } {
  let clientAtStart = process.cpuUsage();
  let serverAtStart = cpuSeconds(pid);
  setTimeout(() => {
    clientAtStart = process.cpuUsage();
    serverAtStart = cpuSeconds(pid);
  }, warmupMs);
  return {
    read(durationMs) {
      const client = process.cpuUsage(clientAtStart);
      const server = cpuSeconds(pid) - serverAtStart;
      return {
        client_cpu_pct: ((client.user + client.system) / 1000 / durationMs) * 100,
        server_cpu_pct: (server * 1000 * 100) / durationMs,
      };
    },
  };
}
