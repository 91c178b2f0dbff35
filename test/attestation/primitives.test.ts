// Known answers for the primitives the attestation layer builds on: Ed25519
// through node:crypto against RFC 8032 and @noble/curves, the measurement
// against an independent computation, the launch-config encoding's bounds.
import t from 'tap';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { generateKeyPair, importPublicKey, rawPublicKey, signMessage, verifyMessage } from '../../attestation/ed25519.ts';
import { decodeLaunchConfig, encodeLaunchConfig } from '../../attestation/launch-config.ts';
import { buildDigest, measurement } from '../../attestation/measurement.ts';
import { toHex } from '../../attestation/bytes.ts';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const pkcs8Prefix = '302e020100300506032b657004220420'; // RFC 8410 §7 PKCS#8 wrapping of a raw seed

t.test('Ed25519 signs RFC 8032 §7.1 TEST 2', async (t) => {
  const seed = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';
  const key = createPrivateKey({ key: Buffer.from(pkcs8Prefix + seed, 'hex'), format: 'der', type: 'pkcs8' });
  t.equal(toHex(rawPublicKey(key)), '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
  const signature = signMessage(key, hex('72'));
  t.equal(
    toHex(signature),
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
      '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  );
  t.ok(verifyMessage(rawPublicKey(key), hex('72'), signature));
  t.notOk(verifyMessage(rawPublicKey(key), hex('73'), signature));
});

t.test('node:crypto Ed25519 agrees with @noble/curves both ways', async (t) => {
  for (let i = 0; i < 16; i++) {
    const pair = generateKeyPair();
    const message = new Uint8Array(randomBytes(i * 7));
    t.ok(ed25519.verify(signMessage(pair.privateKey, message), message, pair.publicKey));
    const seed = ed25519.utils.randomSecretKey();
    const nobleSignature = ed25519.sign(message, seed);
    t.ok(verifyMessage(ed25519.getPublicKey(seed), message, nobleSignature));
  }
});

t.test('verifyMessage refuses bad keys and signature lengths instead of throwing', async (t) => {
  const pair = generateKeyPair();
  const signature = signMessage(pair.privateKey, Uint8Array.of(1));
  t.notOk(verifyMessage(pair.publicKey.subarray(0, 31), Uint8Array.of(1), signature));
  t.notOk(verifyMessage(pair.publicKey, Uint8Array.of(1), signature.subarray(0, 63)));
  t.equal(importPublicKey(new Uint8Array(33)), null);
});

t.test('measurement known answer', async (t) => {
  // Computed independently with Python:
  //   hashlib.sha256(b'teearray measurement v1\x00' + bytes(range(32)) + bytes([7]*32)
  //                  + struct.pack('>II', 4096, 1024)).hexdigest()
  const build = Uint8Array.from({ length: 32 }, (_, i) => i);
  const config = { managerPublicKey: new Uint8Array(32).fill(7), sectorBytes: 4096, sectorCount: 1024 };
  t.equal(toHex(measurement(build, config)), '28cbcb2b3d23daa4407f7722fac3423259e6d868a633be23c36f0003ef96dfb5');
  // hashlib.sha256(b'teearray disk-node bundle').hexdigest()
  t.equal(
    toHex(buildDigest(new TextEncoder().encode('teearray disk-node bundle'))),
    'b2f295b8601322d1c9dfb1ccdbabc0f67177e8039eb04c37be291abeceb0c36d',
  );
  t.throws(() => measurement(build.subarray(1), config), { code: 'E_ATT_FORMAT' });
});

t.test('launch config encoding: layout and bounds', async (t) => {
  const managerPublicKey = new Uint8Array(32).fill(9);
  const encoded = encodeLaunchConfig({ managerPublicKey, sectorBytes: 0x01020304, sectorCount: 0xffffffff });
  t.equal(toHex(encoded), '09'.repeat(32) + '01020304' + 'ffffffff');
  t.same(decodeLaunchConfig(encoded), { managerPublicKey, sectorBytes: 0x01020304, sectorCount: 0xffffffff });
  const bad = [
    { managerPublicKey: new Uint8Array(31), sectorBytes: 4096, sectorCount: 1 },
    { managerPublicKey, sectorBytes: 0, sectorCount: 1 },
    { managerPublicKey, sectorBytes: 4096, sectorCount: 0x100000000 },
    { managerPublicKey, sectorBytes: 4096.5, sectorCount: 1 },
    { managerPublicKey, sectorBytes: 4096, sectorCount: -1 },
  ];
  for (const config of bad) t.throws(() => encodeLaunchConfig(config), { code: 'E_ATT_CONFIG' });
  t.throws(() => decodeLaunchConfig(encoded.subarray(1)), { code: 'E_ATT_FORMAT' });
  t.throws(() => decodeLaunchConfig(new Uint8Array(40)), { code: 'E_ATT_CONFIG' }); // zero sector bytes
});
