// Two values of the Intel SGX PCK certificate's extension (OID
// 1.2.840.113741.1.13.1; Intel "SGX PCK Certificate and CRL Profile",
// "SGX Extensions"), printed as claim details: the FMSPC (the platform
// family, which selects Intel's TCB info) and the PCE SVN. The extension is
// a SEQUENCE of { OID, value } pairs; the TCB entry is itself a SEQUENCE of
// such pairs. Read after every check has passed, for display: a PCK
// certificate without them yields none; malformed DER in an extension that
// Intel's CA signed is refused (E_ATT_FORMAT) like any malformed certificate.
import type { X509Certificate } from 'node:crypto';
import { toHex } from '../bytes.ts';
import { certificateExtensions, derChildren, derOid, derUnsigned, type DerNode } from '../x509/der.ts';

const sgxExtensions = '1.2.840.113741.1.13.1';
const sgxTcb = `${sgxExtensions}.2`;
const sgxPceSvn = `${sgxTcb}.17`;
const sgxFmspc = `${sgxExtensions}.4`;

export interface PckExtensionValues {
  /** 6 bytes, hex. */
  fmspc?: string;
  pceSvn?: number;
}

/** The { OID, value } pairs of a SEQUENCE's contents, by OID. */
function pairs(contents: Uint8Array, what: string): Map<string, DerNode> {
  const out = new Map<string, DerNode>();
  for (const pair of derChildren(contents, what)) {
    const [oid, value] = derChildren(pair.value, what);
    if (oid && value) out.set(derOid(oid, what), value);
  }
  return out;
}

export function pckExtensionValues(leaf: X509Certificate): PckExtensionValues {
  const what = 'PCK certificate SGX extension';
  const extension = certificateExtensions(new Uint8Array(leaf.raw), what).get(sgxExtensions);
  const out: PckExtensionValues = {};
  if (!extension) return out;
  const [top] = derChildren(extension.value, what);
  if (top?.tag !== 0x30) return out;
  const entries = pairs(top.value, what);
  const fmspc = entries.get(sgxFmspc);
  if (fmspc?.tag === 0x04 && fmspc.value.length === 6) out.fmspc = toHex(fmspc.value);
  const tcb = entries.get(sgxTcb);
  const pceSvn = tcb?.tag === 0x30 ? pairs(tcb.value, what).get(sgxPceSvn) : undefined;
  if (pceSvn) out.pceSvn = derUnsigned(pceSvn, `${what} PCESVN`);
  return out;
}
