// The identity of Intel's TDX Quoting Enclave, pinned. The PCK key signs the
// report of any enclave that holds the provisioning key attribute, and on a
// flexible-launch-control platform the host decides which enclaves may have
// it. Without this check a hostile host could run its own "QE", have the PCE
// certify its key, and sign any TD quote it likes. Intel publishes the TD
// QE's identity as signed collateral (PCS /tdx/certification/v4/qe/identity,
// id "TD_QE"); these are its fixed fields, the same in the 2023 and 2025
// copies that go-tdx-guest and dcap-qvl ship as test data. Its TCB levels
// (which ISVSVN is up to date) are collateral teearray does not fetch
// (docs/TEE_TDX.md, "What is not checked").
import { equalBytes } from '../bytes.ts';

const hex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));

const tdQeIdentity = {
  mrSigner: hex('dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5'),
  isvProdId: 2,
  miscSelect: hex('00000000'),
  miscSelectMask: hex('ffffffff'),
  attributes: hex('11000000000000000000000000000000'),
  attributesMask: hex('fbffffffffffffff0000000000000000'),
};

function masked(value: Uint8Array, mask: Uint8Array): Uint8Array {
  return value.map((b, i) => b & mask[i]);
}

/** Why `qeReport` (an SGX REPORTBODY, Intel SDM "REPORT") is not Intel's TD QE, or null when it is. */
export function notIntelTdQe(qeReport: Uint8Array): string | null {
  const miscSelect = qeReport.subarray(16, 20);
  const attributes = qeReport.subarray(48, 64);
  const mrSigner = qeReport.subarray(128, 160);
  const isvProdId = qeReport[256] | (qeReport[257] << 8);
  if (!equalBytes(mrSigner, tdQeIdentity.mrSigner)) return 'MRSIGNER';
  if (isvProdId !== tdQeIdentity.isvProdId) return 'ISVPRODID';
  if (!equalBytes(masked(miscSelect, tdQeIdentity.miscSelectMask), tdQeIdentity.miscSelect)) return 'MISCSELECT';
  if (!equalBytes(masked(attributes, tdQeIdentity.attributesMask), tdQeIdentity.attributes)) return 'ATTRIBUTES';
  return null;
}
