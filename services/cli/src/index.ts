/** @noctria/cli — the `noctria` command as a function (`run(argv, io)`), for tests and embedding. */
export { run, buildProgram } from './cli.js';
export { CLI_ERROR, EXIT, type CliIo, type CliStream } from './io.js';
