// The endorsement of a chip key by its platform's root key (the simulated
// "manufacturer"). The root signs
//   "teearray chip certificate v1" 0x00 || platform (length byte + name) || chip public key
// so a chip key is certified for one platform only. The certificate is
// embedded in every evidence; on disk (sim-platform.ts) it is stored alone:
//   "TECC" | version 1 | platform | root public key 32 | chip public key 32 | signature 64
// Trusts nothing: decodeChipCert checks lengths, chipCertValid checks the signature.
import type { KeyObject } from 'node:crypto';
import { ByteReader } from './byte-reader.ts';
import { concatBytes, domainLabel } from './bytes.ts';
import { signMessage, verifyMessage } from './ed25519.ts';
import { publicKeyBytes, signatureBytes } from './limits.ts';
import { encodePlatformName, readPlatformName } from './platform-name.ts';

const chipCertLabel = domainLabel('teearray chip certificate v1');
const chipCertMagic = Uint8Array.from([0x54, 0x45, 0x43, 0x43]); // "TECC"
const chipCertVersion = 1;

export interface ChipCert {
  platform: string;
  rootPublicKey: Uint8Array;
  chipPublicKey: Uint8Array;
  /** Root's Ed25519 signature over chipCertMessage(platform, chipPublicKey). */
  signature: Uint8Array;
}

export function chipCertMessage(platform: string, chipPublicKey: Uint8Array): Uint8Array {
  return concatBytes(chipCertLabel, encodePlatformName(platform), chipPublicKey);
}

export function certifyChipKey(
  root: { privateKey: KeyObject; publicKey: Uint8Array },
  platform: string,
  chipPublicKey: Uint8Array,
): ChipCert {
  const signature = signMessage(root.privateKey, chipCertMessage(platform, chipPublicKey));
  return { platform, rootPublicKey: root.publicKey, chipPublicKey, signature };
}

/** True iff the root key named in the certificate signed it. Whether that root is trusted is the verifier's question. */
export function chipCertValid(cert: ChipCert): boolean {
  return verifyMessage(cert.rootPublicKey, chipCertMessage(cert.platform, cert.chipPublicKey), cert.signature);
}

export function encodeChipCert(cert: ChipCert): Uint8Array {
  return concatBytes(
    chipCertMagic,
    Uint8Array.of(chipCertVersion),
    encodePlatformName(cert.platform),
    cert.rootPublicKey,
    cert.chipPublicKey,
    cert.signature,
  );
}

export function decodeChipCert(bytes: Uint8Array): ChipCert {
  const reader = new ByteReader(bytes, 'chip certificate');
  reader.header(chipCertMagic, chipCertVersion);
  const cert: ChipCert = {
    platform: readPlatformName(reader),
    rootPublicKey: reader.take(publicKeyBytes, 'root public key'),
    chipPublicKey: reader.take(publicKeyBytes, 'chip public key'),
    signature: reader.take(signatureBytes, 'certificate signature'),
  };
  reader.end();
  return cert;
}
