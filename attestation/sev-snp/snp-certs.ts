// The certificates that come with an SEV-SNP report, and what a VCEK says
// about the chip it belongs to. The aux bytes are one of:
//   - PEM: the VCEK, optionally followed by the ASK and the ARK;
//   - DER: the same, concatenated;
//   - the certificate table of an extended guest request, which is what
//     configfs-tsm's auxblob holds for provider "sev_guest" (GHCB
//     specification 56421 v2.03, §4.1.8.1 MSG_REPORT_REQ): entries of
//     { GUID (16 bytes, RFC 4122 byte order), offset (u32 LE), length
//     (u32 LE) }, ended by an all-zero entry, offsets from the table's start.
// The VCEK's AMD extensions (AMD KDS specification 57230, "VCEK Certificate
// Extensions") name the chip (hwID) and the TCB it was issued for.
import type { KeyObject, X509Certificate } from 'node:crypto';
import { equalBytes, toHex } from '../bytes.ts';
import { AttestationError } from '../errors.ts';
import { parseCertificate, splitPemCertificates } from '../x509/chain.ts';
import { certificateExtensions, derNode, derUnsigned } from '../x509/der.ts';
import { snpProductLines, type SnpProductLine, type SnpTcb } from './snp-report.ts';

/** Largest aux accepted: three certificates of at most 8 KiB and a table (a CRL entry, if any, is skipped unread). */
export const snpAuxBytesMax = 64 * 1024;
/** Most entries in a certificate table (VCEK, ASK, ARK, VLEK, CRL and a few more). */
const certTableEntriesMax = 16;
const certTableEntryBytes = 24;

// GUIDs of the certificate table (56421 Table "Certificate Table GUIDs").
const guidVcek = '63da758de6644564adc5f4b93be8accd';
const guidAsk = '4ab7b379bbac4fe4a02f05aef327c782';
const guidArk = 'c0b406a4a803495297433fb6014cd0ae';

export interface SnpCertificates {
  vcek: X509Certificate;
  /** ASK then ARK when the aux carried them; empty when the built-in ones are to be used. */
  issuers: X509Certificate[];
}

function formatError(why: string): never {
  throw new AttestationError('E_ATT_FORMAT', `SEV-SNP certificates ${why}`);
}

/** Concatenated DER certificates, split by their outer SEQUENCE lengths (X.690 §8.1.3). */
function splitDer(bytes: Uint8Array): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (let at = 0; at < bytes.length; ) {
    if (out.length === 3) formatError('hold more than VCEK, ASK and ARK');
    if (bytes[at] !== 0x30 || at + 2 > bytes.length) formatError(`byte ${at} does not start a DER certificate`);
    let length = bytes[at + 1];
    let header = 2;
    if (length & 0x80) {
      const octets = length & 0x7f;
      if (octets < 1 || octets > 2 || at + 2 + octets > bytes.length) formatError(`byte ${at}: a certificate length is malformed`);
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + bytes[at + 2 + i];
      header += octets;
    }
    const end = at + header + length;
    if (end > bytes.length) formatError(`byte ${at}: a certificate runs past the end`);
    out.push(parseCertificate(bytes.subarray(at, end), `SEV-SNP certificate ${out.length}`));
    at = end;
  }
  return out;
}

function splitCertTable(bytes: Uint8Array): X509Certificate[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const entries: { guid: string; offset: number; length: number }[] = [];
  for (let at = 0; ; at += certTableEntryBytes) {
    if (entries.length > certTableEntriesMax) formatError(`table has more than ${certTableEntriesMax} entries`);
    if (at + certTableEntryBytes > bytes.length) formatError('table has no terminating all-zero entry');
    const entry = { guid: toHex(bytes.subarray(at, at + 16)), offset: view.getUint32(at + 16, true), length: view.getUint32(at + 20, true) };
    if (entry.offset === 0 && entry.length === 0 && /^0+$/.test(entry.guid)) break;
    entries.push(entry);
  }
  const tableEnd = (entries.length + 1) * certTableEntryBytes;
  const found = new Map<string, X509Certificate>();
  entries.forEach(({ guid, offset, length }, i) => {
    if (offset < tableEnd || offset + length > bytes.length) {
      formatError(`table entry ${i} points outside the data after the table (offset ${offset}, length ${length})`);
    }
    const name = guid === guidVcek ? 'VCEK' : guid === guidAsk ? 'ASK' : guid === guidArk ? 'ARK' : null;
    if (name === null) return; // VLEK, CRL and unknown entries are not used.
    if (found.has(name)) formatError(`table lists the ${name} twice`);
    found.set(name, parseCertificate(bytes.subarray(offset, offset + length), `SEV-SNP ${name} (certificate table)`));
  });
  const vcek = found.get('VCEK') ?? formatError('table has no VCEK entry');
  const ask = found.get('ASK');
  const ark = found.get('ARK');
  if (ark && !ask) formatError('table has an ARK but no ASK');
  return [vcek, ...(ask ? [ask] : []), ...(ark ? [ark] : [])];
}

/** The VCEK and any issuers the aux carries (PEM, DER or certificate table); E_ATT_FORMAT. */
export function splitSnpCertificates(aux: Uint8Array): SnpCertificates {
  if (aux.length === 0 || aux.length > snpAuxBytesMax) formatError(`must be 1..${snpAuxBytesMax} bytes, got ${aux.length}`);
  const text = Buffer.from(aux.buffer, aux.byteOffset, aux.length).toString('latin1');
  let certs: X509Certificate[];
  if (text.trimStart().startsWith('-----BEGIN')) certs = splitPemCertificates(text, 'SEV-SNP certificates', 3);
  else if (aux[0] === 0x30) certs = splitDer(aux);
  else certs = splitCertTable(aux);
  return { vcek: certs[0], issuers: certs.slice(1) };
}

/** The product line a VCEK belongs to, from its issuer, the ASK "SEV-<line>" (KDS 57230). */
export function vcekProductLine(vcek: X509Certificate): SnpProductLine {
  const cn = /(?:^|\n)CN=SEV-([A-Za-z]+)(?:\n|$)/.exec(vcek.issuer)?.[1];
  const line = snpProductLines.find((l) => l === cn);
  if (!line) throw new AttestationError('E_ATT_CHAIN', `SEV-SNP VCEK issuer (${vcek.issuer.replace(/\n/g, ', ')}) is not an AMD ASK of ${snpProductLines.join(', ')}`);
  return line;
}

/** The VCEK's public key, which must be ECDSA P-384 (KDS 57230); E_ATT_FORMAT when it does not decode. */
export function vcekPublicKey(vcek: X509Certificate): KeyObject {
  let key: KeyObject;
  try {
    key = vcek.publicKey; // Decoded on first use: a corrupt point throws here, not at parse time.
  } catch (error) {
    throw new AttestationError('E_ATT_FORMAT', `SEV-SNP VCEK public key does not decode: ${(error as Error).message}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    chainError(`key is ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}, not ECDSA P-384`);
  }
  return key;
}

// KDS 57230 "VCEK Certificate Extensions": 1.3.6.1.4.1.3704.1.*
const oidHwId = '1.3.6.1.4.1.3704.1.4';
const oidTcb: Record<keyof SnpTcb, string> = {
  bootloader: '1.3.6.1.4.1.3704.1.3.1',
  tee: '1.3.6.1.4.1.3704.1.3.2',
  snp: '1.3.6.1.4.1.3704.1.3.3',
  microcode: '1.3.6.1.4.1.3704.1.3.8',
  fmc: '1.3.6.1.4.1.3704.1.3.9', // Turin and later
};
/** hwID length: the whole 64-byte CHIP_ID before Turin, its first 8 bytes from Turin on. */
const hwIdBytes: Record<SnpProductLine, number> = { Milan: 64, Genoa: 64, Turin: 8 };

function chainError(why: string): never {
  throw new AttestationError('E_ATT_CHAIN', `SEV-SNP VCEK ${why}`);
}

/** What a VCEK certifies: the chip's hwID and the TCB its key was derived for. */
export function vcekClaims(vcek: X509Certificate, line: SnpProductLine): { hwId: Uint8Array; tcb: SnpTcb } {
  const extensions = certificateExtensions(new Uint8Array(vcek.raw), 'SEV-SNP VCEK');
  // KDS puts the hwID's bytes directly in extnValue; accept an OCTET STRING around them too.
  const hwIdExt = extensions.get(oidHwId)?.value ?? chainError('has no hwID extension (a VLEK?)');
  const size = hwIdBytes[line];
  const hwId = hwIdExt.length === size ? hwIdExt : derNode(hwIdExt, 'SEV-SNP VCEK hwID').value;
  if (hwId.length !== size) chainError(`hwID is ${hwId.length} bytes, ${line} uses ${size}`);
  const level = (part: keyof SnpTcb): number => {
    const ext = extensions.get(oidTcb[part]) ?? chainError(`has no ${part} TCB extension (${oidTcb[part]})`);
    const value = derUnsigned(derNode(ext.value, `SEV-SNP VCEK ${part} TCB`), `SEV-SNP VCEK ${part} TCB`);
    if (value > 255) chainError(`${part} TCB ${value} is not a byte`);
    return value;
  };
  return {
    hwId,
    tcb: {
      fmc: line === 'Turin' ? level('fmc') : null,
      bootloader: level('bootloader'),
      tee: level('tee'),
      snp: level('snp'),
      microcode: level('microcode'),
    },
  };
}

/** Refuses (E_ATT_CHAIN) a VCEK issued for another chip or another TCB than the report's. */
export function checkVcekMatchesReport(vcek: { hwId: Uint8Array; tcb: SnpTcb }, chipId: Uint8Array, reportedTcb: SnpTcb): void {
  if (!equalBytes(vcek.hwId, chipId.subarray(0, vcek.hwId.length))) {
    chainError(`is for chip ${toHex(vcek.hwId)}, the report's CHIP_ID is ${toHex(chipId)} (masked chip ids are all zero)`);
  }
  for (const part of Object.keys(oidTcb) as (keyof SnpTcb)[]) {
    if (vcek.tcb[part] !== reportedTcb[part]) chainError(`is for ${part} SPL ${vcek.tcb[part]}, the report's REPORTED_TCB has ${reportedTcb[part]}`);
  }
}
