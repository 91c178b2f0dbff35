// The array configuration file (cli/array-config.ts): a valid file with and
// without defaults, and one refusal per rule, each with a message that names
// the offending field, plus loadArrayConfig's missing-path and missing-file
// errors, and the atomic rewrite a replacement makes (cli/config-file.ts).
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../attestation/disk-node-bundle.ts';
import { loadArrayConfig, parseArrayConfig } from '../../cli/array-config.ts';
import { CliError, exitCodes } from '../../cli/cli-error.ts';
import { persistEndpointChange } from '../../cli/config-file.ts';
import { loadCertificateDir } from '../../cli/certificate-dir.ts';
import { readdirSync, statSync, chmodSync } from 'node:fs';

const base = {
  k: 2,
  m: 1,
  nodes: ['ws://10.0.0.1:7000', 'ws://10.0.0.2:7000', 'ws://node-3.example:7000'],
  dataDir: 'keys',
  nbd: { unixSocket: 'nbd.sock' },
};

const parse = (value: unknown) => parseArrayConfig(typeof value === 'string' ? value : JSON.stringify(value), '/etc/teearray');

t.test('a minimal config takes the documented defaults', async (t) => {
  const c = parse(base);
  t.same(c, {
    k: 2,
    m: 1,
    nodes: base.nodes,
    dataDir: '/etc/teearray/keys',
    manifest: '/etc/teearray/keys/manifest.json',
    keyErasure: false,
    cryptoWorkers: 'auto',
    nbd: { tcp: null, unixSocket: { path: '/etc/teearray/nbd.sock', group: null }, idleTimeoutSeconds: 0 },
    admin: { host: '127.0.0.1', port: 10810 },
    health: { deathWindowMs: 30_000, backoffMinMs: 50, backoffMaxMs: 2_000, requestTimeoutMs: 5_000, macFailuresMax: 64, probeMs: 5_000 },
    spares: [],
    rebuild: { autoReplace: true, reuseRestarted: true, replaceDelayMs: 0, minBytesPerSecond: 1_000_000, maxBytesPerSecond: 0, stripesPerBatch: 256, checkpointMs: 2_000 },
    scrub: { intervalMs: 0 },
  });
});

t.test('spares, rebuild and scrub: every field, each bounded', async (t) => {
  const c = parse({
    ...base,
    spares: ['ws://10.0.9.1:7000', 'wss://spare.example:7000'],
    rebuild: { autoReplace: false, reuseRestarted: false, replaceDelaySeconds: 300, minMBps: 5, maxMBps: 200, stripesPerBatch: 64, checkpointSeconds: 10 },
    scrub: { intervalHours: 168 },
    health: { probeSeconds: 0 },
  });
  t.same(c.spares, ['ws://10.0.9.1:7000', 'wss://spare.example:7000']);
  t.same(c.rebuild, { autoReplace: false, reuseRestarted: false, replaceDelayMs: 300_000, minBytesPerSecond: 5_000_000, maxBytesPerSecond: 200_000_000, stripesPerBatch: 64, checkpointMs: 10_000 });
  t.same(c.scrub, { intervalMs: 168 * 3_600_000 });
  t.equal(c.health.probeMs, 0, 'probeSeconds 0 turns the probe off');
  t.same(parse({ ...base, rebuild: { minMBps: 1000, maxMBps: 0 } }).rebuild.maxBytesPerSecond, 0, 'maxMBps 0 = unlimited, whatever the minimum');
  t.same(parse({ ...base, rebuild: {} }).rebuild, parse(base).rebuild, 'an empty section takes the defaults');
  t.same(parse({ ...base, spares: Array.from({ length: 64 }, (_, i) => `ws://s${i}:1`) }).spares.length, 64, '64 spares accepted');
});


t.test('health: the death window, backoff and request timeout, each bounded', async (t) => {
  const health = (section: unknown) => parse({ ...base, health: section }).health;
  t.same(health({ deathWindowSeconds: 60, backoffMinMs: 10, backoffMaxMs: 500, requestTimeoutMs: 2000, macFailuresMax: 8, probeSeconds: 30 }), {
    deathWindowMs: 60_000,
    backoffMinMs: 10,
    backoffMaxMs: 500,
    requestTimeoutMs: 2000,
    macFailuresMax: 8,
    probeMs: 30_000,
  });
  t.same(health({ backoffMinMs: 5000 }).backoffMaxMs, 5000, 'the maximum follows a larger minimum');
  const refusals: [unknown, RegExp][] = [
    [[], /health must be an object/],
    [{ deathWindow: 30 }, /health.deathWindow is not a known field/],
    [{ deathWindowSeconds: 0 }, /health.deathWindowSeconds must be an integer in 1..86400/],
    [{ deathWindowSeconds: 1.5 }, /health.deathWindowSeconds must be an integer/],
    [{ backoffMinMs: 0 }, /health.backoffMinMs must be an integer in 1..60000/],
    [{ backoffMinMs: 100, backoffMaxMs: 50 }, /health.backoffMaxMs must be an integer in 100..600000/],
    [{ requestTimeoutMs: 10 }, /health.requestTimeoutMs must be an integer in 100..600000/],
    [{ macFailuresMax: 0 }, /health.macFailuresMax must be an integer in 1..1000000/],
  ];
  for (const [section, message] of refusals) t.throws(() => health(section), message, JSON.stringify(section));
});

t.test('nbd: TLS, Unix socket, plaintext only when asked', async (t) => {
  const nbd = (section: unknown) => parse({ ...base, nbd: section }).nbd;
  t.same(nbd({ tls: { pskFile: 'nbd.psk' } }), { tcp: { host: '127.0.0.1', port: 10809, tls: { pskFile: '/etc/teearray/nbd.psk' } }, unixSocket: null, idleTimeoutSeconds: 0 });
  t.same(nbd({ host: '0.0.0.0', port: 0, tls: { x509Dir: 'tls' }, unixSocket: '/run/nbd.sock', unixSocketGroup: 'disk', idleTimeoutSeconds: 600 }), {
    tcp: { host: '0.0.0.0', port: 0, tls: { x509Dir: '/etc/teearray/tls', clientCerts: true } },
    unixSocket: { path: '/run/nbd.sock', group: 'disk' },
    idleTimeoutSeconds: 600,
  });
  t.same(nbd({ tls: { x509Dir: 'tls', clientCerts: false } }).tcp!.tls, { x509Dir: '/etc/teearray/tls', clientCerts: false });
  t.same(nbd({ insecureTcp: true, host: '10.0.0.5' }).tcp, { host: '10.0.0.5', port: 10809, tls: null }, 'plaintext only with insecureTcp');
  t.same(nbd({ unixSocket: 's', unixSocketGroup: 6 }).unixSocket!.group, 6);
});

t.test('every field set', async (t) => {
  const c = parse({
    ...base,
    dataDir: '/var/lib/teearray',
    manifest: 'refs/manifest.json',
    keyErasure: true,
    cryptoWorkers: 3,
    nbd: { host: '0.0.0.0', port: 0, insecureTcp: true },
    admin: { port: 9000 },
  });
  t.equal(c.cryptoWorkers, 3);
  t.equal(c.dataDir, '/var/lib/teearray', 'absolute dataDir kept');
  t.equal(c.manifest, '/etc/teearray/refs/manifest.json', 'manifest relative to the config file');
  t.equal(c.keyErasure, true);
  t.same(c.nbd.tcp, { host: '0.0.0.0', port: 0, tls: null });
  t.same(c.admin, { host: '127.0.0.1', port: 9000 }, 'host defaults inside a given object');
  t.same(parse({ ...base, nodes: ['wss://a:1', 'ws://b', 'ws://c:65535/'] }).nodes, ['wss://a:1', 'ws://b', 'ws://c:65535/']);
  t.same(parse({ ...base, k: 127, m: 1, nodes: Array.from({ length: 128 }, (_, i) => `ws://n${i}:7000`), dataDir: 'd' }).k, 127, 'k + m = 128 accepted');
});

// One refusal per rule: [what is wrong, the file, the field its message must name].
const refusals: [string, unknown, string][] = [
  ['unknown top-level field', { ...base, replicas: 3 }, 'config: replicas is not a known field'],
  ['k missing', { ...base, k: undefined }, 'config: k must be an integer in 1..127'],
  ['k zero', { ...base, k: 0 }, 'config: k must be an integer'],
  ['k fractional', { ...base, k: 1.5 }, 'config: k must be an integer'],
  ['k as a string', { ...base, k: '2' }, 'config: k must be an integer'],
  ['k too large', { ...base, k: 128 }, 'config: k must be an integer in 1..127'],
  ['m zero', { ...base, m: 0 }, 'config: m must be an integer in 1..127'],
  ['m too large', { ...base, m: 200 }, 'config: m must be an integer'],
  ['k + m above 128', { ...base, k: 100, m: 29, nodes: Array.from({ length: 129 }, (_, i) => `ws://n${i}:1`) }, 'config: k + m must be at most 128'],
  ['too few nodes', { ...base, nodes: base.nodes.slice(0, 2) }, 'config: nodes must list exactly k + m = 3 endpoints'],
  ['too many nodes', { ...base, nodes: [...base.nodes, 'ws://x:1'] }, 'config: nodes must list exactly k + m = 3'],
  ['nodes not a list', { ...base, nodes: 'ws://a:1' }, 'config: nodes must list'],
  ['http URL', { ...base, nodes: ['ws://a:1', 'http://b:1', 'ws://c:1'] }, 'config: nodes[1] must be ws://host:port'],
  ['URL with a path', { ...base, nodes: ['ws://a:1', 'ws://b:1', 'ws://c:1/x'] }, 'config: nodes[2] must be ws://host:port'],
  ['URL with a space', { ...base, nodes: ['ws://a b:1', 'ws://b:1', 'ws://c:1'] }, 'config: nodes[0] must be ws://host:port'],
  ['node not a string', { ...base, nodes: [7000, 'ws://b:1', 'ws://c:1'] }, 'config: nodes[0] must be ws://host:port'],
  ['dataDir missing', { ...base, dataDir: undefined }, 'config: dataDir must name the key directory'],
  ['dataDir empty', { ...base, dataDir: '' }, 'config: dataDir must name'],
  ['manifest empty', { ...base, manifest: '' }, 'config: manifest must be a path'],
  ['keyErasure not boolean', { ...base, keyErasure: 'yes' }, 'config: keyErasure must be true or false'],
  ['cryptoWorkers negative', { ...base, cryptoWorkers: -1 }, 'config: cryptoWorkers must be "auto" or an integer in 0..16'],
  ['cryptoWorkers fractional', { ...base, cryptoWorkers: 1.5 }, 'config: cryptoWorkers must be "auto" or an integer in 0..16'],
  ['cryptoWorkers too many', { ...base, cryptoWorkers: 17 }, 'config: cryptoWorkers must be "auto" or an integer in 0..16'],
  ['cryptoWorkers another word', { ...base, cryptoWorkers: 'all' }, 'config: cryptoWorkers must be "auto"'],
  ['nbd missing', { ...base, nbd: undefined }, 'config: nbd must be an object; set tls, unixSocket or insecureTcp'],
  ['nbd not an object', { ...base, nbd: 10809 }, 'config: nbd must be an object'],
  ['nbd null', { ...base, nbd: null }, 'config: nbd must be an object'],
  ['nbd without access', { ...base, nbd: { host: '127.0.0.1', port: 10809 } }, 'config: nbd must set tls, unixSocket or insecureTcp'],
  ['nbd port without tls', { ...base, nbd: { unixSocket: 's', port: 10809 } }, 'config: nbd.port needs nbd.tls'],
  ['nbd unknown field', { ...base, nbd: { unixSocket: 's', tls2: true } }, 'config: nbd.tls2 is not a known field'],
  ['nbd tls not an object', { ...base, nbd: { tls: true } }, 'config: nbd.tls must be {"pskFile": PATH} or {"x509Dir": DIR}'],
  ['nbd tls both', { ...base, nbd: { tls: { pskFile: 'a', x509Dir: 'b' } } }, 'config: nbd.tls must set exactly one of pskFile and x509Dir'],
  ['nbd tls neither', { ...base, nbd: { tls: {} } }, 'config: nbd.tls must set exactly one'],
  ['nbd tls unknown field', { ...base, nbd: { tls: { pskFile: 'a', verify: 1 } } }, 'config: nbd.tls.verify is not a known field'],
  ['nbd clientCerts with psk', { ...base, nbd: { tls: { pskFile: 'a', clientCerts: false } } }, 'config: nbd.tls.clientCerts applies to x509Dir only'],
  ['nbd clientCerts not boolean', { ...base, nbd: { tls: { x509Dir: 'a', clientCerts: 'no' } } }, 'config: nbd.tls.clientCerts must be true or false'],
  ['nbd tls and insecureTcp', { ...base, nbd: { tls: { pskFile: 'a' }, insecureTcp: true } }, 'config: nbd.insecureTcp contradicts nbd.tls'],
  ['nbd insecureTcp not boolean', { ...base, nbd: { insecureTcp: 'yes' } }, 'config: nbd.insecureTcp must be true or false'],
  ['nbd unixSocket empty', { ...base, nbd: { unixSocket: '' } }, 'config: nbd.unixSocket must be a path'],
  ['nbd group without socket', { ...base, nbd: { insecureTcp: true, unixSocketGroup: 'disk' } }, 'config: nbd.unixSocketGroup needs nbd.unixSocket'],
  ['nbd group bad', { ...base, nbd: { unixSocket: 's', unixSocketGroup: 'a b' } }, 'config: nbd.unixSocketGroup must be a group name or numeric id'],
  ['nbd group negative', { ...base, nbd: { unixSocket: 's', unixSocketGroup: -1 } }, 'config: nbd.unixSocketGroup must be'],
  ['nbd idle too long', { ...base, nbd: { unixSocket: 's', idleTimeoutSeconds: 604801 } }, 'config: nbd.idleTimeoutSeconds must be an integer in 0..604800'],
  ['nbd port too large', { ...base, nbd: { insecureTcp: true, port: 65536 } }, 'config: nbd.port must be an integer in 0..65535'],
  ['nbd port negative', { ...base, nbd: { insecureTcp: true, port: -1 } }, 'config: nbd.port must be an integer'],
  ['nbd host empty', { ...base, nbd: { insecureTcp: true, host: '' } }, 'config: nbd.host must be a host name or address'],
  ['nbd host too long', { ...base, nbd: { insecureTcp: true, host: 'h'.repeat(256) } }, 'config: nbd.host must be a host name'],
  ['admin host not a string', { ...base, admin: { host: 127 } }, 'config: admin.host must be a host name'],
  ['admin port a string', { ...base, admin: { port: '10810' } }, 'config: admin.port must be an integer in 0..65535'],
  ['admin unknown field', { ...base, admin: { token: 'x' } }, 'config: admin.token is not a known field'],
  ['node listed twice', { ...base, nodes: ['ws://a:1', 'ws://b:1', 'ws://a:1'] }, 'config: nodes[2] repeats ws://a:1'],
  ['spares not a list', { ...base, spares: 'ws://s:1' }, 'config: spares must be a list of at most 64 endpoints'],
  ['too many spares', { ...base, spares: Array.from({ length: 65 }, (_, i) => `ws://s${i}:1`) }, 'config: spares must be a list of at most 64'],
  ['spare not ws', { ...base, spares: ['ws://s:1', 'http://s:2'] }, 'config: spares[1] must be ws://host:port'],
  ['spare with a path', { ...base, spares: ['ws://s:1/x'] }, 'config: spares[0] must be ws://host:port'],
  ['spare not a string', { ...base, spares: [7000] }, 'config: spares[0] must be ws://host:port'],
  ['spare too long', { ...base, spares: [`ws://${'h'.repeat(1100)}:1`] }, 'config: spares[0] must be ws://host:port'],
  ['spare listed twice', { ...base, spares: ['ws://s:1', 'ws://s:1'] }, 'config: spares[1] repeats ws://s:1'],
  ['spare is a node', { ...base, spares: [base.nodes[1]] }, "config: spares[0] is already slot 1's node"],
  ['rebuild not an object', { ...base, rebuild: true }, 'config: rebuild must be an object'],
  ['rebuild a list', { ...base, rebuild: [] }, 'config: rebuild must be an object'],
  ['rebuild unknown field', { ...base, rebuild: { speed: 1 } }, 'config: rebuild.speed is not a known field'],
  ['rebuild autoReplace not boolean', { ...base, rebuild: { autoReplace: 1 } }, 'config: rebuild.autoReplace must be true or false'],
  ['rebuild reuseRestarted not boolean', { ...base, rebuild: { reuseRestarted: 'yes' } }, 'config: rebuild.reuseRestarted must be true or false'],
  ['rebuild delay negative', { ...base, rebuild: { replaceDelaySeconds: -1 } }, 'config: rebuild.replaceDelaySeconds must be an integer in 0..86400'],
  ['rebuild delay too long', { ...base, rebuild: { replaceDelaySeconds: 86401 } }, 'config: rebuild.replaceDelaySeconds must be an integer in 0..86400'],
  ['rebuild minMBps zero', { ...base, rebuild: { minMBps: 0 } }, 'config: rebuild.minMBps must be an integer in 1..1000000'],
  ['rebuild minMBps fractional', { ...base, rebuild: { minMBps: 1.5 } }, 'config: rebuild.minMBps must be an integer'],
  ['rebuild maxMBps too large', { ...base, rebuild: { maxMBps: 1_000_001 } }, 'config: rebuild.maxMBps must be an integer in 0..1000000'],
  ['rebuild maxMBps below minMBps', { ...base, rebuild: { minMBps: 50, maxMBps: 10 } }, 'config: rebuild.maxMBps must be 0 (unlimited) or at least minMBps (50)'],
  ['rebuild stripesPerBatch zero', { ...base, rebuild: { stripesPerBatch: 0 } }, 'config: rebuild.stripesPerBatch must be an integer in 1..4096'],
  ['rebuild stripesPerBatch too large', { ...base, rebuild: { stripesPerBatch: 4097 } }, 'config: rebuild.stripesPerBatch must be an integer in 1..4096'],
  ['rebuild checkpoint too long', { ...base, rebuild: { checkpointSeconds: 3601 } }, 'config: rebuild.checkpointSeconds must be an integer in 0..3600'],
  ['rebuild checkpoint a string', { ...base, rebuild: { checkpointSeconds: '2' } }, 'config: rebuild.checkpointSeconds must be an integer'],
  ['scrub not an object', { ...base, scrub: 24 }, 'config: scrub must be an object'],
  ['scrub unknown field', { ...base, scrub: { intervalDays: 7 } }, 'config: scrub.intervalDays is not a known field'],
  ['scrub interval negative', { ...base, scrub: { intervalHours: -1 } }, 'config: scrub.intervalHours must be an integer in 0..8760'],
  ['scrub interval too long', { ...base, scrub: { intervalHours: 8761 } }, 'config: scrub.intervalHours must be an integer in 0..8760'],
  ['scrub interval fractional', { ...base, scrub: { intervalHours: 0.5 } }, 'config: scrub.intervalHours must be an integer'],
  ['health probe too long', { ...base, health: { probeSeconds: 3601 } }, 'config: health.probeSeconds must be an integer in 0..3600'],
  ['not JSON', '{"k": 2,', 'config: file is not JSON'],
  ['a JSON array', '[]', 'config: file must hold a JSON object'],
  ['JSON null', 'null', 'config: file must hold a JSON object'],
  ['oversized file', JSON.stringify({ ...base, pad: 'x'.repeat(64 * 1024) }), 'config: file is larger than 65536 bytes'],
];

t.test('refusals name the field', async (t) => {
  for (const [what, value, message] of refusals) {
    let caught: unknown;
    try {
      parse(value);
    } catch (err) {
      caught = err;
    }
    t.type(caught, CliError, what);
    t.ok((caught as Error).message.startsWith(message), `${what}: "${(caught as Error).message}"`);
    t.equal((caught as CliError).exitCode, exitCodes.usage, `${what}: exit code 2`);
  }
});

t.test('loadArrayConfig: path required, unreadable file named, relative paths from the file', async (t) => {
  await t.rejects(loadArrayConfig(undefined), { message: '--config FILE is required', exitCode: exitCodes.usage });
  const dir = mkdtempSync(join(tmpdir(), 'teearray-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(loadArrayConfig(join(dir, 'none.json')), { message: `cannot read config ${join(dir, 'none.json')}` });
  writeFileSync(join(dir, 'array.json'), JSON.stringify(base));
  const c = await loadArrayConfig(join(dir, 'array.json'));
  t.equal(c.dataDir, join(dir, 'keys'), 'dataDir resolved against the config file directory');
});

t.test('the shipped examples are valid configs', async (t) => {
  const example = await loadArrayConfig(join(repoRoot, 'deploy', 'array.example.json'));
  t.equal(example.nodes.length, example.k + example.m, 'deploy/array.example.json');
  // The Kubernetes ConfigMap embeds array.json as a literal block: take it up to the end of the YAML document.
  const yaml = readFileSync(join(repoRoot, 'deploy', 'kubernetes', 'manager.yaml'), 'utf8');
  const block = /array\.json: \|\n((?: {4}.*\n)+)/.exec(yaml);
  t.ok(block, 'manager.yaml has an array.json block');
  const k8s = parseArrayConfig(block![1], '/');
  t.equal(k8s.nodes.length, k8s.k + k8s.m, 'deploy/kubernetes/manager.yaml array.json');
  const doc = readFileSync(join(repoRoot, 'docs', 'CLI.md'), 'utf8');
  const fenced = /Example \(`deploy\/array\.example\.json`\):\n\n```json\n([^`]+)```/.exec(doc);
  t.ok(fenced, 'docs/CLI.md has the example');
  t.same(parseArrayConfig(fenced![1], '/').nodes, example.nodes, 'docs/CLI.md shows the same nodes as the shipped example');
});

t.test('a replacement rewrites the config file atomically, keeping every other field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'array.json');
  const original = { ...base, spares: ['ws://s1:7000', 'ws://s2:7000'], admin: { port: 9000 }, rebuild: { minMBps: 4 } };
  writeFileSync(path, JSON.stringify(original));
  chmodSync(path, 0o640);
  await persistEndpointChange(path, { slot: 1, endpoint: 'ws://s1:7000', spares: ['ws://s2:7000'] });
  const after = JSON.parse(readFileSync(path, 'utf8'));
  t.same(after, { ...original, nodes: [base.nodes[0], 'ws://s1:7000', base.nodes[2]], spares: ['ws://s2:7000'] }, 'slot 1 now names the spare; the spare is gone from the list');
  t.equal(statSync(path).mode & 0o777, 0o640, 'the file keeps its mode');
  t.same(readdirSync(dir), ['array.json'], 'no temporary file left behind');
  await persistEndpointChange(path, { slot: -1, endpoint: '', spares: [] });
  t.same(JSON.parse(readFileSync(path, 'utf8')).spares, [], 'slot -1: only the spares change (a spare was refused)');
  t.same(JSON.parse(readFileSync(path, 'utf8')).nodes, after.nodes);

  // Nothing is written when the change would not load, or the file no longer does.
  const before = readFileSync(path, 'utf8');
  await t.rejects(persistEndpointChange(path, { slot: 0, endpoint: base.nodes[2], spares: [] }), /nodes\[2\] repeats/, 'a slot may not take another slot\'s node');
  await t.rejects(persistEndpointChange(path, { slot: 5, endpoint: 'ws://x:1', spares: [] }), /has no slot 5/);
  await t.rejects(persistEndpointChange(path, { slot: 0, endpoint: 'http://x:1', spares: [] }), /nodes\[0\] must be ws:\/\/host:port/);
  t.equal(readFileSync(path, 'utf8'), before, 'the file is untouched by refused changes');
  writeFileSync(path, '{"k": 2,');
  await t.rejects(persistEndpointChange(path, { slot: 0, endpoint: 'ws://x:1', spares: [] }), /config: file is not JSON/, 'a file that no longer parses is refused, not overwritten');
  t.equal(readFileSync(path, 'utf8'), '{"k": 2,');
  await t.rejects(persistEndpointChange(join(dir, 'gone.json'), { slot: 0, endpoint: 'ws://x:1', spares: [] }), { code: 'ENOENT' });
  if (process.getuid?.() !== 0) {
    // A directory the manager may not write (systemd ReadOnlyPaths, a read-only ConfigMap): a typed refusal naming the file.
    writeFileSync(path, JSON.stringify(base));
    chmodSync(dir, 0o500);
    t.teardown(() => chmodSync(dir, 0o700));
    await t.rejects(persistEndpointChange(path, { slot: 0, endpoint: 'ws://x:1', spares: [] }), { code: 'E_CONFIG_WRITE', message: /cannot rewrite the config file .*array\.json: EACCES/ });
    t.same(JSON.parse(readFileSync(path, 'utf8')), base, 'and the file is untouched');
  }
});

t.test('vcekDir: a path relative to the file; its certificate files are read, bounded', async (t) => {
  t.equal(parse({ ...base, vcekDir: 'vceks' }).vcekDir, '/etc/teearray/vceks');
  t.notOk('vcekDir' in parse(base), 'absent: no operator certificates');
  t.throws(() => parse({ ...base, vcekDir: '' }), /^config: vcekDir must be a path/);
  t.throws(() => parse({ ...base, vcekDir: 7 }), /^config: vcekDir must be a path/);
  const dir = mkdtempSync(join(tmpdir(), 'teearray-vcek-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const vcek = readFileSync(join(repoRoot, 'test', 'vectors', 'sev-snp', 'lunal-genoa-vcek.der'));
  writeFileSync(join(dir, 'genoa.der'), vcek);
  writeFileSync(join(dir, 'README.txt'), 'not a certificate file: ignored');
  t.same(await loadCertificateDir(dir), [new Uint8Array(vcek)]);
  await t.rejects(loadCertificateDir(join(dir, 'missing')), { message: /vcekDir .*missing cannot be read \(ENOENT\)/ });
  writeFileSync(join(dir, 'huge.pem'), Buffer.alloc(16 * 1024 + 1));
  await t.rejects(loadCertificateDir(dir), { message: /huge\.pem is larger than 16384 bytes/ });
  rmSync(join(dir, 'huge.pem'));
  for (let i = 0; i <= 256; i++) writeFileSync(join(dir, `v${i}.der`), vcek);
  await t.rejects(loadCertificateDir(dir), { message: /holds 258 certificate files, more than 256/ });
});
