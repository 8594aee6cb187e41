import { describe, expect, it } from "vitest";
import { README_END, README_START, checks, describeChanges, isResults, renderMarkdown, replaceReadmeSection, type Results } from "../src/report.js";

function results(ours = 250_000): Results {
  return {
    machine: { cpu: "Test CPU", cores: 2, node: "v20.0.0", date: "2026-01-01 00:00 UTC", loadGenerator: "wsbench", quick: false, rounds: 3 },
    rows: [
      {
        section: "Server",
        name: "32 B echo",
        unit: "msg/s",
        ours,
        peers: { ws: 100_000, "ws+bufferutil": 125_000 },
        comparisons: [
          { peer: "ws", target: { direction: "higher", bound: 2 } },
          { peer: "ws+bufferutil", target: { direction: "higher", bound: 2 } },
        ],
      },
      {
        section: "Server",
        name: "idle | memory",
        unit: "bytes/conn",
        lowerIsBetter: true,
        ours: 4000,
        peers: { ws: 8000 },
        comparisons: [{ peer: "ws", target: { direction: "lower", bound: 0.6 } }, { peer: "ws+bufferutil" }],
      },
    ],
    notes: ["a note"],
  };
}

describe("renderMarkdown", () => {
  it("renders the machine line, a table per section, ratios with targets and the notes", () => {
    const md = renderMarkdown(results());
    expect(md).toContain("Machine: Test CPU, 2 cores, Node v20.0.0, 2026-01-01 00:00 UTC. Load generator: wsbench.");
    expect(md).toContain("Median of 3 interleaved rounds.");
    expect(md).toContain("**Server**");
    expect(md).toContain("| workload | unit | ours | ws | ws + bufferutil | Bun | node:http bare upgrade | net.Server bare upgrade | Node WebSocket | ours ÷ peer (target) | vs last run |");
    expect(md).toContain("| 32 B echo | msg/s | 250,000 | 100,000 | 125,000 | – | – | – | – | 2.50× ws (≥ 2.00×) ✅<br>2.00× ws + bufferutil (≥ 2.00×) ✅ |  |");
    // pipes in names are escaped, missing peers print as a dash and targetless comparisons have no mark
    expect(md).toContain("| idle \\| memory | bytes/conn (lower is better) | 4,000 | 8,000 | – | – | – | – | – | 0.50× ws (≤ 0.60×) ✅<br>– ws + bufferutil |  |");
    expect(md).toContain("Targets met: 3 of 3.");
    expect(md).toMatch(/\n- a note\n$/);
  });
  it("lists missed targets and the change against a previous run", () => {
    const md = renderMarkdown(results(150_000), results(300_000));
    expect(md).toContain("Targets met: 1 of 3. Missed: Server / 32 B echo vs ws (1.50×, ≥ 2.00×); Server / 32 B echo vs ws + bufferutil (1.20×, ≥ 2.00×).");
    expect(md).toContain("| -50.0 % |");
  });
  it("says when a run is quick", () => {
    const r = results();
    r.machine.quick = true;
    expect(renderMarkdown(r)).toContain("QUICK run");
  });
});

describe("checks and describeChanges", () => {
  it("lists every targeted comparison with its verdict", () => {
    expect(checks(results()).map((c) => [c.key, c.peer, c.verdict])).toEqual([
      ["Server / 32 B echo", "ws", "met"],
      ["Server / 32 B echo", "ws+bufferutil", "met"],
      ["Server / idle | memory", "ws", "met"],
    ]);
  });
  it("describes how our figures moved", () => {
    expect(describeChanges(results(275_000), results())).toEqual([
      "Server / 32 B echo: 250,000 → 275,000 msg/s (+10.0 %)",
      "Server / idle | memory: 4,000 → 4,000 bytes/conn (+0.0 %)",
    ]);
    expect(describeChanges(results(), undefined)).toEqual([]);
  });
});

describe("replaceReadmeSection", () => {
  it("appends a Performance section with markers once", () => {
    const once = replaceReadmeSection("# Title\n\ntext\n", "table 1");
    expect(once).toBe(`# Title\n\ntext\n\n## Performance\n\n${README_START}\ntable 1\n${README_END}\n`);
    const twice = replaceReadmeSection(once, "table 2\n\n");
    expect(twice).toBe(`# Title\n\ntext\n\n## Performance\n\n${README_START}\ntable 2\n${README_END}\n`);
    expect(twice.match(/## Performance/g)).toHaveLength(1);
  });
  it("keeps what follows the end marker", () => {
    const readme = `a\n${README_START}\nold\n${README_END}\n\n## Next\n`;
    expect(replaceReadmeSection(readme, "new")).toBe(`a\n${README_START}\nnew\n${README_END}\n\n## Next\n`);
  });
});

describe("isResults", () => {
  it("accepts a results object and rejects anything else", () => {
    expect(isResults(results())).toBe(true);
    expect(isResults({ rows: [] })).toBe(false);
    expect(isResults(null)).toBe(false);
    expect(isResults([])).toBe(false);
  });
});
