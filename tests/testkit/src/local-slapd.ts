import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './local-redis.js';

/**
 * A real OpenLDAP `slapd` of our own for the directory sign-in tests: a temp folder with a
 * slapd.conf (mdb backend), listening on free loopback ports, loaded with `ldapadd`. Debian's
 * `slapd` and `ldap-utils` packages (the test bootstrap installs them when missing and root).
 */
export interface LocalSlapd {
  /** ldap:// URL (StartTLS offered when started with tls). */
  url: string;
  /** ldaps:// URL when started with tls. */
  ldapsUrl?: string;
  /** The PEM file of the throwaway CA that signed the server certificate (with tls). */
  caFile?: string;
  suffix: string;
  rootDn: string;
  rootPassword: string;
  process: ChildProcess;
  /** Stops slapd (SIGTERM, then SIGKILL); safe to call twice. */
  stop(): Promise<void>;
  /** Starts it again on the same ports with the same data (after stop). */
  restart(): Promise<void>;
}

export interface LocalSlapdOptions {
  dir: string;
  suffix?: string;
  /** LDIF loaded after start (as the root DN). Default: TEST_DIRECTORY_LDIF. */
  ldif?: string;
  /** Make a throwaway CA (openssl) and listen with ldaps:// too; StartTLS on ldap://. */
  tls?: boolean;
}

export const TEST_SUFFIX = 'dc=example,dc=com';
export const TEST_OPERATOR_GROUP = `cn=operators,ou=groups,${TEST_SUFFIX}`;
export const TEST_SERVICE = { dn: `cn=datasync,ou=services,${TEST_SUFFIX}`, password: 'service-pass-Zq81' };
/** The test tree's people: alice in the operator group, bob in it through a nested group, carol not. */
export const TEST_USERS = {
  alice: { uid: 'alice', password: 'alice-pass-Xy7', mail: 'alice@example.com' },
  bob: { uid: 'bob', password: 'bob-pass-Kw3', mail: 'bob@example.com' },
  carol: { uid: 'carol', password: 'carol-pass-Jm5', mail: 'carol@example.com' },
} as const;

const person = (u: {
  uid: string;
  password: string;
  mail: string;
}) => `dn: uid=${u.uid},ou=people,${TEST_SUFFIX}
objectClass: inetOrgPerson
uid: ${u.uid}
cn: ${u.uid}
sn: ${u.uid}
mail: ${u.mail}
userPassword: ${u.password}
`;

export const TEST_DIRECTORY_LDIF = [
  `dn: ${TEST_SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example
`,
  ...['people', 'groups', 'services'].map(
    (ou) => `dn: ou=${ou},${TEST_SUFFIX}
objectClass: organizationalUnit
ou: ${ou}
`,
  ),
  `dn: ${TEST_SERVICE.dn}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: datasync
userPassword: ${TEST_SERVICE.password}
`,
  ...Object.values(TEST_USERS).map(person),
  `dn: cn=team-leads,ou=groups,${TEST_SUFFIX}
objectClass: groupOfNames
cn: team-leads
member: uid=bob,ou=people,${TEST_SUFFIX}
`,
  `dn: ${TEST_OPERATOR_GROUP}
objectClass: groupOfNames
cn: operators
member: uid=alice,ou=people,${TEST_SUFFIX}
member: cn=team-leads,ou=groups,${TEST_SUFFIX}
`,
  `dn: cn=others,ou=groups,${TEST_SUFFIX}
objectClass: groupOfNames
cn: others
member: uid=carol,ou=people,${TEST_SUFFIX}
`,
].join('\n');

export function slapdPath(): string | null {
  for (const candidate of ['/usr/sbin/slapd', '/usr/local/sbin/slapd']) {
    const found = spawnSync(candidate, ['-VV'], { encoding: 'utf8' });
    if (!found.error) return candidate;
  }
  return null;
}

function run(command: string, args: string[], input?: string) {
  const result = spawnSync(command, args, { encoding: 'utf8', input });
  if (result.status !== 0)
    throw new Error(`${command} ${args[0] ?? ''} failed: ${result.stderr || result.stdout || result.error}`);
}

/** A CA and a server certificate for 127.0.0.1 / localhost, made with openssl. */
function makeThrowawayCa(dir: string) {
  const p = (name: string) => join(dir, name);
  run(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=datasync test CA'].concat([
      '-keyout',
      p('ca.key'),
      '-out',
      p('ca.pem'),
    ]),
  );
  run(
    'openssl',
    ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost'].concat([
      '-keyout',
      p('server.key'),
      '-out',
      p('server.csr'),
    ]),
  );
  writeFileSync(p('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(
    'openssl',
    ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key')].concat([
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      p('san.ext'),
      '-out',
      p('server.pem'),
    ]),
  );
  return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key') };
}

function slapdConf(
  dir: string,
  suffix: string,
  rootDn: string,
  rootPassword: string,
  tls: ReturnType<typeof makeThrowawayCa> | null,
) {
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${join(dir, 'slapd.pid')}
${tls ? `TLSCACertificateFile ${tls.ca}\nTLSCertificateFile ${tls.cert}\nTLSCertificateKeyFile ${tls.key}\n` : ''}
database mdb
maxsize 16777216
suffix "${suffix}"
rootdn "${rootDn}"
rootpw ${rootPassword}
directory ${join(dir, 'db')}
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
`;
}

async function waitUntilListening(url: string, child: ChildProcess, output: () => string) {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`slapd exited: ${output()}`);
    const probe = spawnSync('ldapsearch', ['-x', '-H', url, '-s', 'base', '-b', '', '(objectClass=*)'], {
      encoding: 'utf8',
      timeout: 2_000,
    });
    if (probe.status === 0) return;
    if (Date.now() - started > 15_000) throw new Error(`slapd does not answer at ${url}: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startLocalSlapd(options: LocalSlapdOptions): Promise<LocalSlapd> {
  const bin = slapdPath();
  if (!bin) {
    throw new Error(
      'slapd is not installed. On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y slapd ldap-utils',
    );
  }
  const suffix = options.suffix ?? TEST_SUFFIX;
  const rootDn = `cn=admin,${suffix}`;
  const rootPassword = 'root-pass-Lk2';
  mkdirSync(join(options.dir, 'db'), { recursive: true });
  const tls = options.tls ? makeThrowawayCa(options.dir) : null;
  const conf = join(options.dir, 'slapd.conf');
  writeFileSync(conf, slapdConf(options.dir, suffix, rootDn, rootPassword, tls));
  const port = await freePort();
  const ldapsPort = tls ? await freePort() : 0;
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = tls ? `ldaps://127.0.0.1:${ldapsPort}` : undefined;
  const listen = [`${url}/`, ...(ldapsUrl ? [`${ldapsUrl}/`] : [])].join(' ');

  let child: ChildProcess;
  let out = '';
  const launch = async () => {
    out = '';
    // -d 0: stay in the foreground (our child, stopped by a signal) without debug output.
    child = spawn(bin, ['-f', conf, '-h', listen, '-d', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitUntilListening(url, child, () => out);
  };
  await launch();
  const ldif = options.ldif ?? TEST_DIRECTORY_LDIF;
  run('ldapadd', ['-x', '-H', url, '-D', rootDn, '-w', rootPassword], ldif);

  const stop = async () => {
    const c = child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const result: LocalSlapd = {
    url,
    ...(ldapsUrl ? { ldapsUrl } : {}),
    ...(tls ? { caFile: tls.ca } : {}),
    suffix,
    rootDn,
    rootPassword,
    get process() {
      return child;
    },
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
  return result;
}
