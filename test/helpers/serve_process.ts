// A `worldwander serve` process for the app's tests: started with the given flags (and
// environment), answered with its url once it listens; its stderr is kept for the error when it
// exits first.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

import { repoRoot } from './release_examples.js';

export async function startServeProcess(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; url: string }> {
  const cli = path.join(repoRoot, 'bin', 'worldwander.js');
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /app: (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { child, url };
}

/** The token a client sends to change anything (the page carries it; scripts read it here). */
export async function tokenOf(url: string): Promise<string> {
  return ((await (await fetch(`${url}/api/info`)).json()) as { token: string }).token;
}
