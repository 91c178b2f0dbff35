// The PSK file parser (array-manager/nbd/psk-file.ts): the format psktool
// writes (checked against psktool itself when gnutls-bin is installed), and
// one refusal per rule.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { formatPskLine, parsePskFile, PskFileError, pskEntriesMax } from '../../array-manager/nbd/psk-file.ts';
import { has, run } from './child-process.ts';

const key32 = 'ab'.repeat(32);

t.test('psktool format, comments and blank lines, several users', async (t) => {
  const keys = parsePskFile(`alice:${key32}\n\n# backups\nbob:${'01'.repeat(16)}\r\n`, 'f');
  t.same([...keys.keys()], ['alice', 'bob']);
  t.equal(keys.get('alice')!.toString('hex'), key32);
  t.equal(keys.get('bob')!.length, 16);
  t.equal(formatPskLine('alice', Buffer.from(key32, 'hex')), `alice:${key32}\n`);
  t.same(parsePskFile(formatPskLine('x', Buffer.alloc(16, 7)), 'f').get('x'), Buffer.alloc(16, 7), 'round trip');
});

t.test('a file psktool wrote', { skip: !has('psktool') && 'gnutls-bin (psktool) not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'teearray-psk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const result = await run('psktool', ['-u', 'carol', '-p', join(dir, 'keys.psk')]);
  t.equal(result.code, 0, result.stderr);
  const keys = parsePskFile(readFileSync(join(dir, 'keys.psk'), 'utf8'), 'keys.psk');
  t.equal(keys.get('carol')!.length, 32);
});

const refusals: [string, string, RegExp][] = [
  ['empty', '', /holds no keys/],
  ['only comments', '# nothing\n', /holds no keys/],
  ['no colon', `alice${key32}\n`, /f:1: expected username:hexkey/],
  ['empty username', `:${key32}`, /username must be/],
  ['space in username', `al ice:${key32}`, /username must be/],
  ['username too long', `${'u'.repeat(129)}:${key32}`, /username must be/],
  ['odd hex', `alice:${key32}0`, /even number of hex digits/],
  ['not hex', `alice:${'zz'.repeat(32)}`, /hex digits/],
  ['key too short', `alice:${'ab'.repeat(15)}`, /16\.\.256 bytes, got 15/],
  ['key too long', `alice:${'ab'.repeat(257)}`, /got 257/],
  ['duplicate user', `alice:${key32}\nalice:${key32}`, /f:2: username alice appears twice/],
  ['too many users', Array.from({ length: pskEntriesMax + 1 }, (_, i) => `u${i}:${'cd'.repeat(16)}`).join('\n'), /more than 1024 keys/],
  ['too large', `alice:${key32}\n` + '#'.repeat(70_000), /larger than/],
];
for (const [what, text, message] of refusals) {
  t.test(`refused: ${what}`, async (t) => {
    t.throws(() => parsePskFile(text, 'f'), PskFileError);
    t.throws(() => parsePskFile(text, 'f'), message);
  });
}

t.test('formatPskLine refuses what the parser would', async (t) => {
  t.throws(() => formatPskLine('a:b', Buffer.alloc(32)), PskFileError);
  t.throws(() => formatPskLine('alice', Buffer.alloc(8)), PskFileError);
});
