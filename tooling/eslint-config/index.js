// Shared flat config: typescript-eslint's type-aware rules for package sources, lighter rules for
// tests and scripts. Each package's eslint.config.js is `export default config(import.meta.dirname)`.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export function config(tsconfigRootDir) {
  return tseslint.config(
    { ignores: ["dist/**", "coverage/**", "node_modules/**", "**/*.d.ts"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
      languageOptions: {
        parserOptions: { projectService: true, tsconfigRootDir },
      },
      rules: {
        "@typescript-eslint/consistent-type-imports": "error",
        "@typescript-eslint/no-floating-promises": "error",
        "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
        "no-constant-condition": ["error", { checkLoops: false }],
        eqeqeq: ["error", "always"],
      },
    },
    {
      files: ["**/*.test.ts", "**/*.bench.ts", "test/**", "bench/**"],
      rules: {
        "@typescript-eslint/no-non-null-assertion": "off",
      },
    },
    {
      files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
      ...tseslint.configs.disableTypeChecked,
    },
  );
}
