// `BENCH_ONLY=login npm run bench`: how long a directory sign-in takes against a real slapd, and
// whether a wrong password and an unknown user name can be told apart by their timing (they
// should not: the unknown name binds to a DN that cannot exist, then waits as long as refused
// binds take). Prints medians and 90th percentiles in ms.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startLocalSlapd,
  TEST_OPERATOR_GROUP,
  TEST_SERVICE,
  TEST_SUFFIX,
  TEST_USERS,
} from '@datasync/testkit';
import { Directory } from '../dist/auth/directory.js';

const ROUNDS = Number(process.env.BENCH_LOGIN_ROUNDS ?? 200);
const dir = mkdtempSync(join(tmpdir(), 'datasync-login-bench-'));
const slapd = await startLocalSlapd({ dir });
try {
  const directory = new Directory({
    url: slapd.url,
    bindDn: TEST_SERVICE.dn,
    bindPassword: TEST_SERVICE.password,
    baseDn: `ou=people,${TEST_SUFFIX}`,
    userFilter: '(|(uid={{username}})(sAMAccountName={{username}})(mail={{username}}))',
    operatorGroup: TEST_OPERATOR_GROUP,
    startTls: false,
    timeoutMs: 5_000,
  });
  const timed = async (name, password, expected) => {
    const started = process.hrtime.bigint();
    const verdict = await directory.authenticate(name, password);
    if (verdict.outcome !== expected) throw new Error(`${name}: ${verdict.outcome}, expected ${expected}`);
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const runs = {
    'wrong password': [],
    'unknown user': [],
    'operator (nested group)': [],
    'outside the group': [],
  };
  for (let i = 0; i < ROUNDS; i++) {
    // Interleaved, so load on the machine falls on every kind alike.
    runs['wrong password'].push(await timed('alice', `wrong-${i}`, 'invalid'));
    runs['unknown user'].push(await timed(`nobody-${i}`, `wrong-${i}`, 'invalid'));
    runs['operator (nested group)'].push(await timed('bob', TEST_USERS.bob.password, 'granted'));
    runs['outside the group'].push(await timed('carol', TEST_USERS.carol.password, 'not-in-group'));
  }
  const at = (values, q) => [...values].sort((a, b) => a - b)[Math.floor(values.length * q)].toFixed(2);
  console.log(`directory sign-in against slapd, ${ROUNDS} rounds (ms):`);
  for (const [kind, values] of Object.entries(runs))
    console.log(
      `  ${kind.padEnd(24)} median ${at(values, 0.5).padStart(7)}  p90 ${at(values, 0.9).padStart(7)}`,
    );
} finally {
  await slapd.stop();
  rmSync(dir, { recursive: true, force: true });
}
