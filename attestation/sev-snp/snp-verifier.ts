// Verifies an AMD SEV-SNP attestation report with its VCEK, the VCEK with
// the ASK and the ARK (given, or built in for the VCEK's product line), and
// the ARK against the caller's pinned fingerprints. The checks, in order
// (docs/TEE_SEV_SNP.md says the same with the reasons):
//   1. the report's shape (snp-report.ts)                     E_ATT_FORMAT
//   2. the certificates' encoding                             E_ATT_FORMAT
//   3. signed by a VCEK (SIGNING_KEY 0), of a known line      E_ATT_CHAIN
//   4. the ECDSA P-384/SHA-384 signature by the VCEK's key    E_ATT_SIGNATURE
//   5. VCEK -> ASK -> ARK, valid at opts.at, ARK pinned       E_ATT_CHAIN, E_ATT_EXPIRED
//   6. the VCEK names the report's chip and REPORTED_TCB,
//      and the report's CPUID family is the line's           E_ATT_CHAIN
// The signature comes before the chain so that a change to any field that
// still decodes is reported as what it is (E_ATT_SIGNATURE), whatever field
// it touched: the TCB and CHIP_ID included.
import { verify } from 'node:crypto';
import { toHex } from '../bytes.ts';
import { AttestationError } from '../errors.ts';
import type { CheckRecord, NativeClaims, NativeVerifyOptions } from '../hardware/native-claims.ts';
import { parseCertificate, verifyCertificateChain } from '../x509/chain.ts';
import { amdCertificates } from './amd-roots.ts';
import { checkVcekMatchesReport, splitSnpCertificates, vcekClaims, vcekProductLine, vcekPublicKey } from './snp-certs.ts';
import { decodeSnpReport, decodeTcb, snpCpuidFamily, snpSigningKeyVcek, type SnpTcb } from './snp-report.ts';

const notChecked = [
  'VCEK, ASK revocation (AMD KDS certificate revocation lists)',
  "the TCB against AMD's current security bulletins (a minimum TCB comes from the manifest's reference)",
  'the ID block: ID_KEY_DIGEST, AUTHOR_KEY_DIGEST, FAMILY_ID and IMAGE_ID are reported, not checked',
  'PLATFORM_INFO (SMT, TSME, ciphertext hiding on the host) and the mitigation vectors',
  'reports signed by a VLEK (cloud-provider endorsement key)',
];

function tcbText(tcb: SnpTcb): string {
  return `${tcb.fmc === null ? '' : `fmc=${tcb.fmc} `}bl=${tcb.bootloader} tee=${tcb.tee} snp=${tcb.snp} ucode=${tcb.microcode}`;
}

function tcbDetails(name: string, tcb: SnpTcb): Record<string, number> {
  return {
    ...(tcb.fmc === null ? {} : { [`${name}.fmc`]: tcb.fmc }),
    [`${name}.bootloader`]: tcb.bootloader,
    [`${name}.tee`]: tcb.tee,
    [`${name}.snp`]: tcb.snp,
    [`${name}.microcode`]: tcb.microcode,
  };
}

export function verifySevSnpEvidence(report: Uint8Array, certs: Uint8Array, opts: NativeVerifyOptions): NativeClaims {
  const decoded = decodeSnpReport(report);
  const { vcek, issuers } = splitSnpCertificates(certs);
  if (decoded.signingKey !== snpSigningKeyVcek) {
    throw new AttestationError('E_ATT_CHAIN', `SEV-SNP report is signed by key type ${decoded.signingKey} (1: VLEK, 7: none); only a VCEK is accepted`);
  }
  const line = vcekProductLine(vcek);

  // ECDSA over SHA-384 of bytes 0x000..0x29F; node checks r, s are in [1, n-1].
  if (!verify('sha384', decoded.signedBody, { key: vcekPublicKey(vcek), dsaEncoding: 'ieee-p1363' }, decoded.signatureP1363)) {
    throw new AttestationError('E_ATT_SIGNATURE', `SEV-SNP report signature does not verify with the VCEK's key`);
  }
  const checks: CheckRecord[] = [
    { check: 'format', detail: `SEV-SNP report version ${decoded.version}, ${report.length} bytes` },
    { check: 'signature', detail: `ECDSA P-384 SHA-384 by the VCEK (${line})` },
  ];

  // The aux may carry the ASK and ARK; what it lacks comes from the built-in copies of the line.
  const chain = [vcek, ...issuers];
  for (const role of (['ask', 'ark'] as const).slice(issuers.length)) {
    chain.push(parseCertificate(amdCertificates[line][role], `built-in ${line} ${role.toUpperCase()}`));
  }
  const verified = verifyCertificateChain(chain, { at: opts.at, rootFingerprints: opts.rootFingerprints, what: `SEV-SNP ${line} chain` });
  checks.push(...verified.checks);

  const reportedTcb = decodeTcb(decoded.reportedTcb, line);
  checkVcekMatchesReport(vcekClaims(vcek, line), decoded.chipId, reportedTcb);
  if (decoded.cpuid && decoded.cpuid.family !== snpCpuidFamily[line]) {
    throw new AttestationError('E_ATT_CHAIN', `SEV-SNP report comes from CPUID family 0x${decoded.cpuid.family.toString(16)}, the VCEK is of ${line}`);
  }
  checks.push({ check: 'vcek', detail: `issued for CHIP_ID ${toHex(decoded.chipId).slice(0, 16)}… at REPORTED_TCB ${tcbText(reportedTcb)}` });

  const { policy } = decoded;
  return {
    platform: 'amd-sev-snp-v1',
    reportData: decoded.reportData,
    measurements: { measurement: decoded.measurement, hostData: decoded.hostData },
    debug: policy.debug,
    rootFingerprint: verified.rootFingerprint,
    issuedAt: null,
    checks,
    notChecked: [...notChecked],
    details: {
      productLine: line,
      version: decoded.version,
      policy: `0x${policy.raw.toString(16).padStart(16, '0')}`,
      abiMajor: policy.abiMajor,
      abiMinor: policy.abiMinor,
      smt: policy.smt,
      migrateMa: policy.migrateMa,
      debug: policy.debug,
      singleSocket: policy.singleSocket,
      vmpl: decoded.vmpl,
      guestSvn: decoded.guestSvn,
      platformInfo: `0x${decoded.platformInfo.toString(16).padStart(16, '0')}`,
      authorKeyEn: decoded.authorKeyEn,
      chipId: toHex(decoded.chipId),
      firmware: decoded.currentVersion,
      committedFirmware: decoded.committedVersion,
      ...tcbDetails('reportedTcb', reportedTcb),
      ...tcbDetails('committedTcb', decodeTcb(decoded.committedTcb, line)),
      ...tcbDetails('launchTcb', decodeTcb(decoded.launchTcb, line)),
      ...tcbDetails('currentTcb', decodeTcb(decoded.currentTcb, line)),
    },
  };
}
