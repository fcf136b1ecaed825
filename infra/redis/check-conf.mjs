// Loads infra/redis/redis.conf into a real redis-server (unix socket only, temp folder) and reads
// back the settings datasync's guarantees rest on. Used by scripts/check-infra.mjs.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

const REQUIRED = { appendonly: 'yes', appendfsync: 'always', 'maxmemory-policy': 'noeviction' };

function command(socketPath, args) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let reply = '';
    socket.setTimeout(3000, () => socket.destroy(new Error('redis-server did not answer')));
    socket.once('error', reject);
    socket.on('data', (d) => {
      reply += d;
      // CONFIG GET answers a two-element array: *2, then $len/name, $len/value.
      if (reply.split('\r\n').length >= 6 || reply.startsWith('-')) {
        socket.end();
        resolve(reply.split('\r\n'));
      }
    });
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

async function connectable(socketPath, child) {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) return false;
    const ok = await new Promise((resolve) => {
      const s = net.connect(socketPath);
      s.once('connect', () => {
        s.end();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export async function checkRedisConf({ dir, conf }) {
  if (spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status !== 0)
    return 'skipped: redis-server is not installed';
  mkdirSync(dir, { recursive: true });
  const socketPath = join(dir, 'redis.sock');
  let output = '';
  // Command-line options override the file: no TCP port, everything in the temp folder.
  const child = spawn(
    'redis-server',
    [
      conf,
      '--port',
      '0',
      '--unixsocket',
      socketPath,
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--maxmemory',
      '64mb',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  try {
    if (!(await connectable(socketPath, child)))
      throw new Error(`redis-server refused the file:\n${output.trim()}`);
    const wrong = [];
    for (const [name, expected] of Object.entries(REQUIRED)) {
      const reply = await command(socketPath, ['CONFIG', 'GET', name]);
      if (reply[4] !== expected) wrong.push(`${name} is ${reply[4] ?? '(unset)'}, must be ${expected}`);
    }
    if (wrong.length > 0) throw new Error(wrong.join('\n'));
    return Object.entries(REQUIRED)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  } finally {
    if (child.exitCode === null) {
      await new Promise((resolve) => {
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
  }
}
