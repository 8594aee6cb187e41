// The figures a load generator run yields, and how to read them from wsbench's output (or from the
// Node fallback, which prints the same JSON fields). wsbench prints a human summary and then one
// final JSON line; we take the last line that parses as a JSON object, so stray log lines, trailing
// blank lines or a partial summary do not break it.

export interface LoadResult {
  msgsPerSec?: number;
  mbPerSecRecv?: number;
  connPerSec?: number;
  bytesPerConn?: number;
  latP50Us?: number;
  latP99Us?: number;
  clientCpuPct?: number;
  serverCpuPct?: number;
  /** Sum of every error counter wsbench reports; a run with errors is not trusted. */
  errors: number;
}

const ERROR_FIELDS = [
  "mismatches",
  "protocol_errors",
  "connect_errors",
  "handshake_errors",
  "unexpected_closes",
  "pong_bad",
  "pong_timeouts",
] as const;

function num(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/** The last line of `output` that is a JSON object, or undefined. */
export function lastJsonObject(output: string): Record<string, unknown> | undefined {
  const lines = output.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line.startsWith("{") || !line.endsWith("}")) continue;
    try {
      const value: unknown = JSON.parse(line);
      if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // not JSON after all: keep looking further up
    }
  }
  return undefined;
}

/** Reads a wsbench (or fallback) JSON line into a LoadResult; undefined when there is none. */
export function parseLoadOutput(output: string): LoadResult | undefined {
  const json = lastJsonObject(output);
  if (!json) return undefined;
  const lat = json.lat_us !== null && typeof json.lat_us === "object" ? (json.lat_us as Record<string, unknown>) : {};
  let errors = 0;
  for (const field of ERROR_FIELDS) errors += num(json[field]) ?? 0;
  const result: LoadResult = { errors };
  const set = <K extends keyof LoadResult>(key: K, value: number | undefined): void => {
    if (value !== undefined) result[key] = value as LoadResult[K];
  };
  set("msgsPerSec", num(json.msgs_per_s));
  set("mbPerSecRecv", num(json.mb_per_s_recv));
  set("connPerSec", num(json.conn_per_s));
  set("bytesPerConn", num(json.bytes_per_conn));
  set("latP50Us", num(lat.p50));
  set("latP99Us", num(lat.p99));
  set("clientCpuPct", num(json.client_cpu_pct));
  set("serverCpuPct", num(json.server_cpu_pct));
  return result;
}
