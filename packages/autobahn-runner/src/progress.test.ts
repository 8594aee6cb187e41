import { describe, expect, it } from "vitest";
import { Progress, formatElapsed, parseWstestLine } from "./progress.js";

describe("parseWstestLine", () => {
  it("reads the totals and the case being run", () => {
    expect(parseWstestLine("Ok, will run 253 test cases against 1 servers")).toEqual({ kind: "total", cases: 253, peers: 1 });
    expect(parseWstestLine("Ok, will run 16 test cases for any clients connecting")).toEqual({ kind: "total", cases: 16, peers: 1 });
    expect(parseWstestLine("Running test case ID 5.18 for agent ws-echo from peer tcp4:127.0.0.1:9011")).toEqual({
      kind: "case",
      id: "5.18",
      agent: "ws-echo",
    });
    expect(parseWstestLine("Updating reports, requested by peer tcp4:127.0.0.1:48390")).toEqual({ kind: "reports" });
    expect(parseWstestLine("Using Twisted reactor class <class 'twisted.internet.epollreactor.EPollReactor'>")).toBeUndefined();
  });
});

describe("Progress", () => {
  function sink(isTTY: boolean): { stream: NodeJS.WritableStream & { isTTY: boolean }; text: () => string } {
    let text = "";
    const stream = { isTTY, write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WritableStream & { isTTY: boolean };
    return { stream, text: () => text };
  }

  it("prints a line per interval in a log, and the last one at the end", () => {
    let now = 0;
    const out = sink(false);
    const progress = new Progress("server", { stream: out.stream, interval: 10_000, now: () => now });
    progress.setTotal(200);
    now = 1_000;
    progress.update(10, "1.1.1");
    now = 12_000;
    progress.update(50, "5.1");
    now = 65_000;
    progress.update(200, "");
    progress.finish();
    expect(out.text().split("\n")).toEqual([
      "server: 0/200 cases   0%  elapsed 0:00",
      "server: 50/200 cases  25%  elapsed 0:12  case 5.1",
      "server: 200/200 cases 100%  elapsed 1:05",
      "",
    ]);
  });

  it("prints the line that reaches the total once, however late finish() comes", () => {
    let now = 0;
    const out = sink(false);
    const progress = new Progress("client", { stream: out.stream, interval: 10_000, now: () => now });
    progress.setTotal(2);
    now = 500;
    progress.update(2, "");
    now = 2_500;
    progress.finish();
    expect(out.text().split("\n")).toEqual(["client: 0/2 cases   0%  elapsed 0:00", "client: 2/2 cases 100%  elapsed 0:00", ""]);
  });

  it("keeps the case shown when an update names none", () => {
    const out = sink(false);
    const progress = new Progress("client", { stream: out.stream, now: () => 0 });
    progress.setTotal(10);
    progress.update(3, "1.1.4");
    progress.update(4);
    expect(progress.line()).toBe("client: 4/10 cases  40%  elapsed 0:00  case 1.1.4");
  });

  it("redraws one line in a terminal", () => {
    const out = sink(true);
    const progress = new Progress("client", { stream: out.stream, now: () => 0 });
    progress.update(3);
    progress.finish();
    expect(out.text()).toBe("\r\x1b[Kclient: 3 cases  elapsed 0:00\r\x1b[Kclient: 3 cases  elapsed 0:00\n");
  });

  it("formats elapsed time", () => {
    expect(formatElapsed(59_999)).toBe("0:59");
    expect(formatElapsed(3_725_000)).toBe("1:02:05");
  });
});
