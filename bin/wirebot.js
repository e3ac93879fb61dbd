#!/usr/bin/env node
// Entry point of the installed command: runs the compiled CLI (built by `npm run build`/`prepare`).
import { runMain } from "../dist/main.js";
await runMain(process.argv.slice(2));
