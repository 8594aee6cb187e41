#!/usr/bin/env node
// tsup's declaration worker cannot receive the `outExtension` function, so it writes the ESM
// declarations as `.d.ts`. Rename them to `.d.mts` (and point their relative imports at the `.mjs`
// files) so that ESM and CommonJS consumers each get declarations of their own module kind.
import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith(".d.ts")) {
      const text = readFileSync(path, "utf8").replace(
        /(from\s+|import\()(["'])(\.{1,2}\/[^"']+?)(?:\.js)?\2/g,
        (_, lead, quote, specifier) => `${lead}${quote}${specifier}.mjs${quote}`,
      );
      writeFileSync(path, text);
      renameSync(path, path.slice(0, -".d.ts".length) + ".d.mts");
    }
  }
}

walk(join(process.cwd(), "dist"));
