import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/main.ts"],
  format: ["esm"],
  outExtension: () => ({ js: ".mjs" }),
  sourcemap: true,
  clean: true,
  target: "node20",
  splitting: false,
});
