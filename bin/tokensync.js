#!/usr/bin/env node
// The `tokensync` binary: the compiled CLI (npm run build writes dist/).
import { main } from '../dist/cli/index.js';

const code = await main(process.argv);
// The sidecar command returns once it has shut down; everything else is done.
process.exit(code);
