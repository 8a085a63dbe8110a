#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

// `worldwander train --help | head`: the reader went away; that ends the output, not with a stack trace
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
