import { programConfig } from "@ws/tsup-config";
import { defineConfig } from "tsup";

// The orchestrator, the Node load generators (the HTTP/2 rows have their own) and the Node servers
// it starts in child processes (src/servers/bun.js is run by Bun as it is, with no build).
export default defineConfig(
  programConfig(
    [
      "src/main.ts",
      "src/loadgen.ts",
      "src/http2-loadgen.ts",
      "src/servers/ours.ts",
      "src/servers/ours-tls.ts",
      "src/servers/ws.ts",
      "src/servers/bare-http.ts",
      "src/servers/bare-net.ts",
    ],
    {
      treeshake: false,
      // Keep the workspace packages and ws external so each child loads the real built code.
      external: ["ws", "bufferutil", "tinybench", "ioredis", "@ws/codec", "@ws/server", "@ws/client", "@ws/redis"],
    },
  ),
);
