import { programConfig } from "@ws/tsup-config";
import { defineConfig } from "tsup";

// The orchestrator, the Node load generator and the servers it starts in child processes (Bun's
// echo server, src/servers/bun-echo.js, is run by Bun from the source tree).
export default defineConfig(
  programConfig(["src/main.ts", "src/loadgen.ts", "src/servers/ours.ts", "src/servers/ws.ts", "src/servers/bare-http.ts", "src/servers/bare-net.ts"], {
    treeshake: false,
    // Keep the workspace packages and ws external so each child loads the real built code.
    external: ["ws", "bufferutil", "tinybench", "@ws/codec", "@ws/server", "@ws/client"],
  }),
);
