// The README's WebSocketStream example (its ```ts block) compiles under `strict` TypeScript with
// "@ws/client" resolved to the built package (dist): the types users get fit it with no cast.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const packageDir = join(import.meta.dirname, "..");
const readme = readFileSync(join(packageDir, "README.md"), "utf8");
const example = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)]
  .map((match) => match[1]!)
  .find((block) => block.includes("new WebSocketStream("));

function compile(code: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "ws-readme-stream-"));
  try {
    const file = join(dir, "example.mts");
    writeFileSync(file, code);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      lib: ["lib.es2023.d.ts"],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ["node"],
      typeRoots: [join(packageDir, "node_modules/@types")],
      skipLibCheck: true,
      paths: { "@ws/client": [join(packageDir, "dist/index.d.mts")] },
    });
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("README WebSocketStream example", () => {
  it("exists as a ts block and the package is built", () => {
    expect(example).toBeDefined();
    expect(existsSync(join(packageDir, "dist/index.d.mts"))).toBe(true);
  });

  it("compiles under strict TypeScript against the built package", () => {
    expect(compile(example!)).toEqual([]);
  }, 120_000);

  it("a type error in it would be reported (the check can fail)", () => {
    expect(compile(`${example!}\nconst n: number = (await wss.opened).protocol;\n`).join("\n")).toMatch(/not assignable/);
  }, 120_000);
});
