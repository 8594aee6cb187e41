import { programConfig } from "@ws/tsup-config";
import { defineConfig } from "tsup";

export default defineConfig(programConfig(["src/main.ts"], { treeshake: false }));
