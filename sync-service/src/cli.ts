import { processIo } from './cli/io';
import { runCli } from './cli/program';

// exitCode rather than process.exit(): stdout may still be flushing a large scorecard to a pipe.
process.exitCode = await runCli(process.argv.slice(2), processIo());
