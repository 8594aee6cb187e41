// The spec files wstest reads (`-s FILE`): fuzzingclient (wstest tests a server) and fuzzingserver
// (wstest tests a client). Case patterns are wstest's own: `*` matches any characters.

/** Spec for `wstest -m fuzzingclient`. */
export interface FuzzingClientSpec {
  outdir: string;
  servers: Array<{ agent: string; url: string; options: { version: number } }>;
  cases: string[];
  "exclude-cases": string[];
  "exclude-agent-cases": Record<string, string[]>;
}

/** Spec for `wstest -m fuzzingserver`. */
export interface FuzzingServerSpec {
  url: string;
  outdir: string;
  cases: string[];
  "exclude-cases": string[];
  "exclude-agent-cases": Record<string, string[]>;
}

export interface CaseSelection {
  /** Case ids or patterns to run; all cases when empty. */
  cases?: readonly string[];
  exclude?: readonly string[];
}

/** Splits "1.*,2.*  9.1.*" into ["1.*", "2.*", "9.1.*"] and checks each is a case id or pattern. */
export function parseCaseList(text: string): string[] {
  const items = text.split(/[\s,]+/).filter((s) => s !== "");
  for (const item of items) {
    if (!/^[\d.*?]+$/.test(item)) throw new Error(`"${item}" is not a case id or pattern (like 5.18 or 9.*)`);
  }
  return items;
}

function selection(select: CaseSelection): Pick<FuzzingClientSpec, "cases" | "exclude-cases" | "exclude-agent-cases"> {
  return {
    cases: select.cases !== undefined && select.cases.length > 0 ? [...select.cases] : ["*"],
    "exclude-cases": [...(select.exclude ?? [])],
    "exclude-agent-cases": {},
  };
}

/** The fuzzingclient spec: one server, reports under `outdir` (as wstest sees the path). */
export function fuzzingClientSpec(options: CaseSelection & { agent: string; url: string; outdir: string }): FuzzingClientSpec {
  return {
    outdir: options.outdir,
    // Version 18 is the final RFC 6455 protocol (Sec-WebSocket-Version: 13).
    servers: [{ agent: options.agent, url: options.url, options: { version: 18 } }],
    ...selection(options),
  };
}

/** The fuzzingserver spec: wstest listens on `url`, reports under `outdir` (as wstest sees the path). */
export function fuzzingServerSpec(options: CaseSelection & { url: string; outdir: string }): FuzzingServerSpec {
  return { url: options.url, outdir: options.outdir, ...selection(options) };
}
