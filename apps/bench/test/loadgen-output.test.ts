import { describe, expect, it } from "vitest";
import { lastJsonObject, parseLoadOutput } from "../src/loadgen-output.js";

const summary = `wsbench 1.0 echo 127.0.0.1:4000/ c=100 s=32 p=16 d=4 w=1
  msgs/s        110,512
  latency (µs)  p50 14,100  p99 20,300
{"mode":"echo","msgs_per_s":110512.4,"mb_per_s_sent":3.53,"mb_per_s_recv":3.53,"lat_us":{"p50":14100,"p90":16000,"p99":20300,"p999":25000,"max":31000},"mismatches":0,"protocol_errors":0,"connect_errors":0,"client_cpu_pct":71.5,"server_cpu_pct":99.8}
`;

describe("parseLoadOutput", () => {
  it("reads wsbench's final JSON line after its human summary", () => {
    expect(parseLoadOutput(summary)).toEqual({
      msgsPerSec: 110512.4,
      mbPerSecRecv: 3.53,
      latP50Us: 14100,
      latP99Us: 20300,
      clientCpuPct: 71.5,
      serverCpuPct: 99.8,
      errors: 0,
    });
  });
  it("reads connect and idle figures", () => {
    expect(parseLoadOutput('{"conn_per_s":4800.5,"handshake_errors":0}')?.connPerSec).toBe(4800.5);
    expect(parseLoadOutput('{"bytes_per_conn":7270,"bytes_per_conn_open":7000}')?.bytesPerConn).toBe(7270);
  });
  it("sums the error counters", () => {
    expect(parseLoadOutput('{"msgs_per_s":1,"mismatches":2,"unexpected_closes":3,"pong_timeouts":1}')?.errors).toBe(6);
  });
  it("skips trailing noise, broken JSON and non-object lines", () => {
    const output = `${summary}warning: something\n{not json}\n[1,2]\n\n`;
    expect(parseLoadOutput(output)?.msgsPerSec).toBe(110512.4);
  });
  it("accepts numeric strings and drops non-numeric fields", () => {
    const r = parseLoadOutput('{"msgs_per_s":"123.5","mb_per_s_recv":null,"lat_us":"n/a"}');
    expect(r).toEqual({ msgsPerSec: 123.5, errors: 0 });
  });
  it("returns undefined without any JSON line", () => {
    expect(parseLoadOutput("wsbench: connection refused\n")).toBeUndefined();
    expect(lastJsonObject("")).toBeUndefined();
  });
  it("handles CRLF line ends", () => {
    expect(parseLoadOutput('x\r\n{"msgs_per_s":5}\r\n')?.msgsPerSec).toBe(5);
  });
});
