// Reports signed by the synthetic VCEK of gen.sh, for the states no public
// sample shows with a valid signature (debug policy with a non-AMD chain,
// migration agent, TCB or CPUID disagreeing with the VCEK, reserved bits).
// Fields are written at the offsets of 56860 Table 23 (docs/TEE_SEV_SNP.md).
import { createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

const here = new URL('./', import.meta.url);
const text = (name: string) => readFileSync(new URL(name, here), 'utf8');

export const synthetic = {
  ark: text('synthetic-ark.pem'),
  ask: text('synthetic-ask.pem'),
  vcek: text('synthetic-vcek.pem'),
  vcekOtherChip: text('synthetic-vcek-other-chip.pem'),
  vcekOtherTcb: text('synthetic-vcek-other-tcb.pem'),
  vcekP256: text('synthetic-vcek-p256.pem'),
  /** SHA-256 of synthetic-ark.pem's DER, as gen.sh printed it: the only root that trusts this chain. */
  arkFingerprint: new Uint8Array(Buffer.from('506914f49be5385918aa73f069acbed03c4abd1ac13c9a4afa57e30564f984ca', 'hex')),
  /** The chip and TCB gen.sh issued the VCEK for. */
  chipId: new Uint8Array(64).fill(0x11),
  tcb: { bootloader: 3, tee: 0, snp: 8, microcode: 0x73 },
};

/** A time inside every synthetic certificate's validity (the ASK's is the shortest: 30 days). */
export const syntheticAt = new Date(new Date(new X509Certificate(synthetic.ask).validFrom).getTime() + 86_400_000);

/** VCEK, ASK and ARK as one PEM bundle. */
export const syntheticChain = (vcek: string = synthetic.vcek) => new TextEncoder().encode(vcek + synthetic.ask + synthetic.ark);

const vcekKey = createPrivateKey(text('synthetic-vcek-key.pem'));

export interface SyntheticFields {
  version?: number;
  policy?: bigint;
  vmpl?: number;
  signatureAlgo?: number;
  signer?: number;
  reportData?: Uint8Array;
  measurement?: Uint8Array;
  reportedTcb?: { bootloader: number; tee: number; snp: number; microcode: number };
  cpuid?: [number, number, number];
  chipId?: Uint8Array;
}

/** Signs bytes 0x000..0x29F into R and S (little-endian, 72 bytes each) at 0x2A0. */
export function resign(report: Uint8Array): Uint8Array {
  const out = new Uint8Array(report);
  const rs = sign('sha384', out.subarray(0, 0x2a0), { key: vcekKey, dsaEncoding: 'ieee-p1363' });
  out.fill(0, 0x2a0);
  out.set(rs.subarray(0, 48).reverse(), 0x2a0);
  out.set(rs.subarray(48, 96).reverse(), 0x2a0 + 72);
  return out;
}

/** A version-2 (by default) report of the synthetic chip at its VCEK's TCB, signed. */
export function syntheticReport(fields: SyntheticFields = {}): Uint8Array {
  const report = new Uint8Array(0x4a0);
  const view = new DataView(report.buffer);
  const tcb = fields.reportedTcb ?? synthetic.tcb;
  const tcbBytes = Uint8Array.of(tcb.bootloader, tcb.tee, 0, 0, 0, 0, tcb.snp, tcb.microcode);
  view.setUint32(0x000, fields.version ?? 2, true);
  view.setBigUint64(0x008, fields.policy ?? 0x30000n, true); // SMT allowed, reserved bit 17
  view.setUint32(0x030, fields.vmpl ?? 0, true);
  view.setUint32(0x034, fields.signatureAlgo ?? 1, true);
  report.set(tcbBytes, 0x038);
  view.setUint32(0x048, fields.signer ?? 0, true);
  report.set(fields.reportData ?? new Uint8Array(64).fill(0xa5), 0x050);
  report.set(fields.measurement ?? new Uint8Array(48).fill(0x5a), 0x090);
  report.set(tcbBytes, 0x180);
  if (fields.cpuid) report.set(fields.cpuid, 0x188);
  report.set(fields.chipId ?? synthetic.chipId, 0x1a0);
  report.set(tcbBytes, 0x1e0);
  report.set(tcbBytes, 0x1f0);
  return resign(report);
}
