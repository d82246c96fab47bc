#!/usr/bin/env node
// The thpemu command: a launcher for dist/cli/main.js (built by `npm run build`).
import { main } from "../dist/cli/main.js";

// A reader that went away (`thpemu run x | head`) is not an error; any other
// failure to write the output is reported once, without a stack trace (while
// main runs, it reports them itself).
let running = true;
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE" || running) return;
  if (process.exitCode === 0 || process.exitCode === undefined) {
    process.stderr.write(`thpemu: cannot write output: ${e.message}\n`);
    process.exitCode = 70;
  }
});

// Never process.exit(): Node exits when stdout has been flushed.
const status = await main(process.argv.slice(2));
running = false;
if (!process.exitCode) process.exitCode = status;
