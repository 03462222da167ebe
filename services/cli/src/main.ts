/** Process entry of the `noctria` command (`bin/noctria.js` → dist/services/cli/src/main.js). */
import { run } from './cli.js';

const controller = new AbortController();
let interrupts = 0;
const onSignal = () => {
  interrupts += 1;
  if (interrupts === 1) {
    process.stderr.write('\nnoctria: stopping after the current step (Ctrl-C again to abort)\n');
    controller.abort();
  } else process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal });
process.exitCode = code;
// Everything is closed by now; if a library left a handle open, do not hang the shell.
setTimeout(() => process.exit(code), 2000).unref();
