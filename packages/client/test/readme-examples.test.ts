// The README's TypeScript examples (its ```ts blocks) compile under `strict`, with "@ws/client"
// resolved to this package's sources: the types users get must fit browser-style code unchanged.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { beforeAll, describe, expect, it } from "vitest";

const packageDir = join(import.meta.dirname, "..");
const blocks = [...readFileSync(join(packageDir, "README.md"), "utf8").matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map(
  (match) => match[1]!,
);
/** Must not compile: shows the check can fail. */
const broken = 'import { WebSocket } from "@ws/client";\nnew WebSocket("ws://x/").onclose = (event) => event.nope;\n';

/** Compiles every source in one program; returns each one's error messages. */
function compile(sources: string[]): string[][] {
  const dir = mkdtempSync(join(tmpdir(), "ws-readme-"));
  try {
    const files = sources.map((code, index) => {
      const file = join(dir, `example${index}.mts`); // ES modules: examples may use top-level await
      writeFileSync(file, code);
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      lib: ["lib.es2023.d.ts"],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      moduleDetection: ts.ModuleDetectionKind.Force,
      types: ["node"],
      typeRoots: [join(packageDir, "node_modules/@types")],
      skipLibCheck: true,
      paths: { "@ws/client": [join(packageDir, "src/index.ts")] },
    });
    const global = ts.getPreEmitDiagnostics(program).filter((diagnostic) => diagnostic.file === undefined);
    return files.map((file) =>
      [...global, ...ts.getPreEmitDiagnostics(program, program.getSourceFile(file))].map((diagnostic) =>
        ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"),
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("README examples", () => {
  let errors: string[][] = [];
  beforeAll(() => {
    errors = compile([...blocks, broken]);
  }, 120_000);

  it("include the WHATWG WebSocket example as a ts block", () => {
    expect(blocks.some((block) => block.includes("new WebSocket("))).toBe(true);
  });

  it("include the WebSocketStream example as a ts block", () => {
    expect(blocks.some((block) => block.includes("new WebSocketStream("))).toBe(true);
  });

  it("compile under strict TypeScript with no errors", () => {
    expect(errors.slice(0, blocks.length)).toEqual(blocks.map(() => []));
  });

  it("a type error in an example is reported (the check can fail)", () => {
    expect(errors.at(-1)!.join("\n")).toMatch(/nope/);
  });
});
