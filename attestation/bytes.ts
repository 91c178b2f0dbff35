// Byte helpers shared by the attestation codecs: concatenation, domain
// labels, hex for manifests and reports. No secrets pass through here.

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * A domain-separation label: ASCII text followed by one zero byte. Every
 * label ends in the only zero byte it contains, so no label is a prefix of
 * another and a signature or hash made for one purpose never verifies for
 * another.
 */
export function domainLabel(text: string): Uint8Array {
  return concatBytes(new TextEncoder().encode(text), Uint8Array.of(0));
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Lowercase hex of exactly `bytes` bytes, or null. */
export function fromHex(text: string, bytes: number): Uint8Array | null {
  if (text.length !== bytes * 2 || !/^[0-9a-f]*$/.test(text)) return null;
  return new Uint8Array(Buffer.from(text, 'hex'));
}
