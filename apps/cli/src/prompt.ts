import { createInterface } from 'node:readline';

/** One line from a terminal (echoed) or from piped stdin. */
export async function promptLine(question: string): Promise<string> {
  const rl = createInterface({
    input: process.stdin,
    output: process.stdin.isTTY ? process.stderr : undefined,
  });
  try {
    if (process.stdin.isTTY) return await new Promise((resolve) => rl.question(question, resolve));
    for await (const line of rl) return line;
    return '';
  } finally {
    rl.close();
  }
}

/**
 * A password: on a terminal read in raw mode and never echoed (Ctrl-C aborts, backspace works);
 * piped, the first line of stdin (for scripts: `printf '%s\n' "$PW" | datasync login alice`).
 */
export async function promptSecret(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) return promptLine(question);
  // Raw mode (no echo) before the prompt shows: a password typed at once is never echoed.
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  process.stderr.write(question);
  try {
    return await new Promise<string>((resolve, reject) => {
      let secret = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            input.off('data', onData);
            resolve(secret);
            return;
          }
          if (ch === '\u0003') {
            input.off('data', onData);
            reject(new Error('aborted'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') secret = secret.slice(0, -1);
          else secret += ch;
        }
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
    process.stderr.write('\n');
  }
}
