import { libraryConfig, programConfig } from "@ws/tsup-config";
import { defineConfig } from "tsup";

export default defineConfig([
  libraryConfig(["src/index.ts"]),
  // The `ws-autobahn` bin: ESM only (it uses top-level await), no types.
  programConfig(["src/cli.ts"], { banner: { js: "#!/usr/bin/env node" }, clean: false }),
]);
