// The `ws-autobahn` command. Everything it does is in commands.ts.
import { main } from "./commands.js";

process.exitCode = await main(process.argv.slice(2));
