// Two values of the Intel SGX PCK certificate's extension (OID
// 1.2.840.113741.1.13.1, Intel "SGX PCK Certificate and CRL Profile"),
// printed as details: the FMSPC (platform family, which selects Intel's TCB
// info) and the PCE SVN. Node cannot decode private extensions, so each
// value is found by its OID's exact DER encoding followed by the expected
// tag and length; a value not found exactly once is not reported. They are
// for display only and read after the chain is verified: no decision rests
// on them.
import { toHex } from '../bytes.ts';

// 06 0a 2a 86 48 86 f8 4d 01 0d 01 04: OID 1.2.840.113741.1.13.1.4 (FMSPC), then OCTET STRING of 6 bytes.
const fmspcOid = Buffer.from('060a2a864886f84d010d0104', 'hex');
// 06 0b 2a 86 48 86 f8 4d 01 0d 01 02 11: OID 1.2.840.113741.1.13.1.2.17 (PCESVN), then an INTEGER.
const pceSvnOid = Buffer.from('060b2a864886f84d010d010211', 'hex');

/** The bytes following the only occurrence of `oid` in `der`, or null. */
function afterUniqueOid(der: Buffer, oid: Buffer): Buffer | null {
  const at = der.indexOf(oid);
  if (at < 0 || der.indexOf(oid, at + 1) >= 0) return null;
  return der.subarray(at + oid.length);
}

export function pckFmspc(der: Buffer): string | null {
  const rest = afterUniqueOid(der, fmspcOid);
  if (rest === null || rest.length < 8 || rest[0] !== 0x04 || rest[1] !== 6) return null;
  return toHex(rest.subarray(2, 8));
}

export function pckPceSvn(der: Buffer): number | null {
  const rest = afterUniqueOid(der, pceSvnOid);
  // A DER INTEGER 0..65535 (the PCE SVN is a u16) takes 1 to 3 content bytes, the first < 0x80.
  if (rest === null || rest.length < 3 || rest[0] !== 0x02 || rest[1] < 1 || rest[1] > 3 || rest.length < 2 + rest[1]) return null;
  if (rest[2] >= 0x80) return null;
  let value = 0;
  for (const byte of rest.subarray(2, 2 + rest[1])) value = value * 256 + byte;
  return value <= 0xffff ? value : null;
}
