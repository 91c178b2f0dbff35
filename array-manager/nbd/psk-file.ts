// The pre-shared-key file of NBD's TLS-PSK, in the format GnuTLS's psktool
// writes and qemu (tls-creds-psk: DIR/keys.psk), nbdkit (--tls-psk=FILE) and
// libnbd (tls-psk-file=FILE) read: one `username:hexkey` per line.
//
//   alice:0123456789abcdef0123456789abcdef...
//
// Parsed strictly with a bound on everything: file size, line count, name
// length and key length. Blank lines and lines starting with '#' are skipped
// (psktool writes neither, but hand-kept files have them). The keys are
// secrets: callers keep the map only as long as the listener needs it.

export class PskFileError extends Error {
  readonly code = 'E_NBD_PSK_FILE';
  constructor(message: string) {
    super(message);
    this.name = 'PskFileError';
  }
}

export const pskFileBytesMax = 64 * 1024;
export const pskEntriesMax = 1024;
/** TLS carries the identity in a 16-bit length field; OpenSSL caps what it passes to the server at 128 bytes. */
export const pskIdentityBytesMax = 128;
/** 16 bytes (128 bits) at least: a shorter key can be searched offline from one recorded handshake. */
export const pskKeyBytesMin = 16;
/** OpenSSL's PSK_MAX_PSK_LEN. */
export const pskKeyBytesMax = 256;

const identityPattern = /^[\x21-\x39\x3b-\x7e]+$/; // printable ASCII, no space, no ':'

/** Parses the file's text into identity → key; `source` names the file in errors. */
export function parsePskFile(text: string, source: string): Map<string, Buffer> {
  if (Buffer.byteLength(text) > pskFileBytesMax) throw new PskFileError(`${source}: larger than ${pskFileBytesMax} bytes`);
  const keys = new Map<string, Buffer>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const where = `${source}:${i + 1}`;
    const colon = line.indexOf(':');
    if (colon < 0) throw new PskFileError(`${where}: expected username:hexkey`);
    const identity = line.slice(0, colon);
    const hex = line.slice(colon + 1);
    if (!identityPattern.test(identity) || identity.length > pskIdentityBytesMax) {
      throw new PskFileError(`${where}: username must be 1..${pskIdentityBytesMax} printable characters without spaces or ':'`);
    }
    if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2 !== 0) throw new PskFileError(`${where}: key must be an even number of hex digits`);
    if (hex.length / 2 < pskKeyBytesMin || hex.length / 2 > pskKeyBytesMax) {
      throw new PskFileError(`${where}: key must be ${pskKeyBytesMin}..${pskKeyBytesMax} bytes, got ${hex.length / 2}`);
    }
    if (keys.has(identity)) throw new PskFileError(`${where}: username ${identity} appears twice`);
    if (keys.size >= pskEntriesMax) throw new PskFileError(`${source}: more than ${pskEntriesMax} keys`);
    keys.set(identity, Buffer.from(hex, 'hex'));
  }
  if (keys.size === 0) throw new PskFileError(`${source}: holds no keys`);
  return keys;
}

/** One line of a PSK file for `identity` and `key` (what psktool -u IDENTITY writes). */
export function formatPskLine(identity: string, key: Uint8Array): string {
  if (!identityPattern.test(identity) || identity.length > pskIdentityBytesMax) throw new PskFileError(`bad PSK username ${JSON.stringify(identity)}`);
  if (key.byteLength < pskKeyBytesMin || key.byteLength > pskKeyBytesMax) throw new PskFileError(`PSK must be ${pskKeyBytesMin}..${pskKeyBytesMax} bytes`);
  return `${identity}:${Buffer.from(key).toString('hex')}\n`;
}
