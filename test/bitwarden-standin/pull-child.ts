/** Runs `secrets pull` in its own process, so a test can read everything the process (and the SDK's Rust logger) prints. */
import { secretsPullCommand } from "../../installer/commands/secrets.ts";
import type { Config } from "../../installer/config/schema.ts";
import { createNodeHost } from "../../installer/host/node-host.ts";
import { processIo } from "../../installer/io.ts";
import { FAST_RETRY } from "./fixtures.ts";

const root = process.env["WB_TEST_ROOT"]!;
const config = JSON.parse(process.env["WB_TEST_CONFIG"]!) as Config;
process.exitCode = await secretsPullCommand({ root }, config, createNodeHost({ root }), processIo, { retry: FAST_RETRY });
