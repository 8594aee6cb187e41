// Runs Verdaccio from a config file on 127.0.0.1, port 0, and prints "listening PORT" once bound.
import { runServer } from "verdaccio";

const app = await runServer(process.argv[2]);
const server = app.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
