// One chat process: an HTTP server with the page at "/" and WebSocket rooms at "/chat". A room is
// a topic; with a Redis URL the topics are shared with every other process on that Redis.
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createRedisBroker } from "@ws/redis";
import { createServer, type WebSocketServer } from "@ws/server";
import { PAGE } from "./page.js";

export interface ChatOptions {
  port: number;
  host: string;
  /** Share rooms through this Redis (`redis://…`); without it, rooms are this process's only. */
  redis?: string;
}

export interface Chat {
  http: HttpServer;
  server: WebSocketServer;
  close(): Promise<void>;
}

/** What a chat message can be at most, in UTF-16 code units; longer ones are cut. */
export const MAX_TEXT = 1000;
const NAME = /^[A-Za-z0-9_-]{1,32}$/;

/** A room or user name from the query: letters, digits, "_" and "-", at most 32; else `fallback`. */
function nameFrom(value: string | null, fallback: string): string {
  return value !== null && NAME.test(value) ? value : fallback;
}

export async function startChat(options: ChatOptions): Promise<Chat> {
  const broker = options.redis === undefined ? undefined : await createRedisBroker({ url: options.redis });
  const http = createHttpServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(PAGE);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  // Every message is a small JSON text: 4 KiB is plenty for MAX_TEXT characters of any script.
  const server = await createServer({ server: http, path: "/chat", maxPayload: 4096, ...(broker ? { broker } : {}) });
  server.on("brokerError", (error) => process.stderr.write(`chat ${process.pid}: ${error.message}\n`));
  server.on("connection", (conn, req) => {
    const query = new URL(req.url ?? "/", "http://chat").searchParams;
    const room = nameFrom(query.get("room"), "lobby");
    const name = nameFrom(query.get("name"), `guest-${process.pid}`);
    conn.subscribe(room);
    conn.send(JSON.stringify({ type: "welcome", room, name, worker: process.pid, here: server.subscriberCount(room) }));
    conn.on("message", (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString().slice(0, MAX_TEXT);
      // Reaches the room's members here and, through Redis, on every other process.
      server.publish(room, JSON.stringify({ type: "message", room, name, text, worker: process.pid }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port, options.host, () => {
      http.off("error", reject);
      resolve();
    });
  });
  return {
    http,
    server,
    close: async () => {
      // Closes the connections and the broker; the HTTP server is ours to close.
      await server.close({ code: 1001, timeout: 2000 });
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
