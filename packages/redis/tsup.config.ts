import { libraryConfig } from "@ws/tsup-config";
import { defineConfig } from "tsup";

export default defineConfig(libraryConfig(["src/index.ts"]));
