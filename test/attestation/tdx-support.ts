// Test vectors of the TDX verifier (test/vectors/tdx/, provenance in
// test/vectors/README.md) and small helpers to mutate quotes.
import { tdxQuoteDeclaredLength } from '../../attestation/tdx/tdx-quote.ts';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

const dir = new URL('../vectors/tdx/', import.meta.url);

/** The file's bytes as published upstream (hex files decoded). */
export function upstreamBytes(file: string): Uint8Array {
  const raw = readFileSync(new URL(file, dir));
  if (!/\.(hex|txt)$/.test(file)) return new Uint8Array(raw);
  return new Uint8Array(Buffer.from(raw.toString('ascii').trim().replace(/^0x/, ''), 'hex'));
}

/**
 * The quote proper: header, body, u32 signature data length, and that many
 * bytes. Upstream files carry more after it (zero padding of the caller's
 * buffer, or a test's "extra bytes" text); the verifier refuses those, and a
 * test shows it on the files as published.
 */
export function exactQuote(bytes: Uint8Array): Uint8Array {
  return bytes.slice(0, tdxQuoteDeclaredLength(bytes)!);
}

export interface RealVector {
  file: string;
  /** Values read by the upstream project's own tests, to check our offsets against. */
  upstream?: { mrtd: string; rtmr0?: string; reportData?: string };
}

export const realVectors: RealVector[] = [
  {
    file: 'go-tdx-guest.tdx_prod_quote_SPR_E4.dat',
    // go-tdx-guest validate/validate_test.go and tools/check/check_test.go use this MRTD for this quote.
    upstream: { mrtd: '6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb' },
  },
  { file: 'go-tdx-guest.cos-113-tdx-quote.dat' },
  {
    file: 'dcap-qvl.tdx_quote',
    // dcap-qvl tests/snapshots/verify_quote__could_parse_tdx_quote.snap (the decoded quote).
    upstream: {
      mrtd: '91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7',
      rtmr0: '44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0',
      reportData:
        '9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20',
    },
  },
  { file: 'dcap-qvl.tdx-quote.hex' },
  { file: 'dcap-qvl.near-quote_hex.txt' },
];

export const syntheticRootFingerprint = new Uint8Array(
  Buffer.from(readFileSync(new URL('synthetic/root.sha256', dir), 'ascii').trim(), 'hex'),
);

export function syntheticQuote(name: 'debug' | 'unbound-attestation-key' | 'not-intel-qe'): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`synthetic/${name}.quote`, dir)));
}

/** Offsets in a v4 quote (docs/TEE_TDX.md). */
export const at = {
  version: 0,
  teeType: 4,
  qeVendorId: 12,
  userData: 28,
  body: 48,
  tdAttributes: 48 + 120,
  mrtd: 48 + 136,
  rtmr0: 48 + 328,
  rtmr3: 48 + 472,
  reportData: 48 + 520,
  signatureDataLength: 632,
  signature: 636,
  attestationKey: 700,
  certDataType: 764,
  qeReport: 770,
  qeReportSignature: 770 + 384,
  qeAuthDataSize: 770 + 448,
  qeAuthData: 770 + 450,
};

/** Offset of the PCK chain's certification data header (type u16, size u32). */
export function pckCertDataAt(quote: Uint8Array): number {
  return at.qeAuthData + Buffer.from(quote).readUInt16LE(at.qeAuthDataSize);
}

export function flipBit(bytes: Uint8Array, byte: number, bit = 0): Uint8Array {
  const out = bytes.slice();
  out[byte] ^= 1 << bit;
  return out;
}

/** The PCK chain's certificates and where each PEM block sits in the quote. */
export function pemBlocks(quote: Uint8Array): Array<{ cert: X509Certificate; offset: number; length: number }> {
  const text = Buffer.from(quote).toString('latin1');
  const blocks: Array<{ cert: X509Certificate; offset: number; length: number }> = [];
  const re = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    blocks.push({ cert: new X509Certificate(m[0]), offset: m.index, length: m[0].length });
  }
  return blocks;
}

/** The quote with one PEM block replaced by the PEM of `der` (which must have the same length). */
export function replaceCertificate(quote: Uint8Array, index: number, der: Uint8Array): Uint8Array {
  const block = pemBlocks(quote)[index];
  const pem = new X509Certificate(Buffer.from(der)).toString();
  if (pem.length !== block.length) throw new Error('test bug: replacement PEM has another length');
  const out = quote.slice();
  out.set(Buffer.from(pem, 'latin1'), block.offset);
  return out;
}

/** The quote with another PCK chain certification data (PEM bytes), every enclosing size adjusted. */
export function withPckChain(quote: Uint8Array, chain: Uint8Array): Uint8Array {
  const chainAt = pckCertDataAt(quote) + 6;
  const out = Buffer.concat([quote.subarray(0, chainAt), chain]);
  out.writeUInt32LE(chain.length, chainAt - 4);
  out.writeUInt32LE(out.length - at.qeReport, at.certDataType + 2);
  out.writeUInt32LE(out.length - at.signature, at.signatureDataLength);
  return new Uint8Array(out);
}
