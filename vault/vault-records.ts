// The vault's records in its reserved region of the virtual disk, and the
// commit marker that names them (docs/VAULT.md, "Region"). The whole region
// is written in one transaction, so it holds one generation entirely; the
// marker's digest over the other sectors checks that on every read.
//
//   sector   record
//   0        commit marker: generation, epoch, SHA-256 of sectors 1..15
//   1        member record: this member's id
//   2        share record: the epoch and this member's share (a secret)
//   3..10    the committed configuration
//   11..12   volume map: volume -> epoch whose key encrypts it, key check value
//   13..15   reserved, zero
import { createHash } from 'node:crypto';
import { equalBytes } from '@noble/ciphers/utils.js';
import { ByteReader, ByteWriter, isZero } from './byte-cursor.ts';
import { decodeConfiguration, encodeConfiguration, type Configuration } from './configuration.ts';
import { checkName } from './epoch-keys.ts';
import { VaultError } from './vault-errors.ts';
import { keyCheckBytes, memberIdBytesMax, shareBytes, vaultSectors, volumeNameBytesMax, volumesMax } from './vault-limits.ts';

export const sectorBytes = 4096;
const markerMagic = 'TQVAULT1';
const memberMagic = 'TQMEMB01';
const shareMagic = 'TQSHARE1';
const volumesMagic = 'TQVOLS01';
/** SHA-256 by OpenSSL: the digest covers 60 KiB on every read and commit. */
function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}

/** Where each record starts and how many sectors it has. */
const at = { marker: 0, member: 1, share: 2, configuration: 3, volumes: 11, reserved: 13 } as const;

export interface VolumeEntry {
  name: string;
  /** The epoch whose key encrypts the volume. */
  epoch: number;
  /** keyCheck() of that key. */
  keyCheck: Uint8Array;
}

/** What one generation of the vault holds. */
export interface VaultRecords {
  /** 1 at init, one more per commit. */
  generation: number;
  memberId: string;
  /** Absent until the first share is stored. */
  configuration?: Configuration;
  /** This member's share of the configuration's epoch (33 bytes; a secret). */
  share?: Uint8Array;
  volumes: VolumeEntry[];
}

export function checkVolumes(volumes: readonly VolumeEntry[], epochMax: number): void {
  if (volumes.length > volumesMax) throw new VaultError('E_VAULT_ARG', `${volumes.length} volumes exceed ${volumesMax}`);
  const names = new Set<string>();
  for (const v of volumes) {
    checkName('volume name', v.name, volumeNameBytesMax);
    if (names.has(v.name)) throw new VaultError('E_VAULT_ARG', `volume ${v.name} appears twice`);
    names.add(v.name);
    if (!Number.isSafeInteger(v.epoch) || v.epoch < 1 || v.epoch > epochMax) throw new VaultError('E_VAULT_ARG', `volume ${v.name}: epoch ${v.epoch} is not in [1, ${epochMax}]`);
    if (v.keyCheck.length !== keyCheckBytes) throw new VaultError('E_VAULT_ARG', `volume ${v.name}: key check is not ${keyCheckBytes} bytes`);
  }
}

function room(first: number, next: number): number {
  return (next - first) * sectorBytes;
}

/** The region's bytes for `r` (vaultSectors sectors); the caller zeroes it (it holds the share). */
export function encodeRecords(r: VaultRecords): Uint8Array {
  checkName('member id', r.memberId, memberIdBytesMax);
  checkVolumes(r.volumes, r.configuration?.epoch ?? 0);
  const region = new Uint8Array(vaultSectors * sectorBytes);
  region.set(new ByteWriter().ascii(memberMagic).name(r.memberId).finish(), at.member * sectorBytes);
  const share = new ByteWriter().ascii(shareMagic).u64(r.configuration?.epoch ?? 0).u8(r.share ? 1 : 0);
  if (r.share) share.bytes(r.share);
  region.set(share.finish(), at.share * sectorBytes);
  if (r.configuration) region.set(new ByteWriter().bytes(encodeConfiguration(r.configuration)).finish(room(at.configuration, at.volumes)), at.configuration * sectorBytes);
  const volumes = new ByteWriter().ascii(volumesMagic).u8(r.volumes.length);
  for (const v of r.volumes) volumes.name(v.name).u64(v.epoch).bytes(v.keyCheck);
  region.set(volumes.finish(room(at.volumes, at.reserved)), at.volumes * sectorBytes);
  const marker = new ByteWriter()
    .ascii(markerMagic)
    .u64(r.generation)
    .u64(r.configuration?.epoch ?? 0)
    .bytes(sha256(region.subarray(sectorBytes)))
    .finish(sectorBytes);
  region.set(marker, 0);
  return region;
}

/** Decodes a region; undefined when it was never initialised (an all-zero marker sector). */
export function decodeRecords(region: Uint8Array): VaultRecords | undefined {
  if (region.length !== vaultSectors * sectorBytes) throw new VaultError('E_VAULT_ARG', `region is ${region.length} bytes, not ${vaultSectors * sectorBytes}`);
  const sector = (first: number, next: number) => region.subarray(first * sectorBytes, next * sectorBytes);
  if (isZero(sector(0, 1))) return undefined;
  const marker = new ByteReader(sector(0, 1), 'commit marker');
  marker.magic(markerMagic);
  const generation = marker.u64('generation');
  const epoch = marker.u64('epoch');
  if (!equalBytes(marker.bytesOf('digest', 32), sha256(region.subarray(sectorBytes)))) {
    throw new VaultError('E_VAULT_TORN', `records of generation ${generation} do not match the commit marker`);
  }
  marker.end();
  const member = new ByteReader(sector(at.member, at.share), 'member record');
  member.magic(memberMagic);
  const memberId = member.name('member id');
  member.end();
  const share = new ByteReader(sector(at.share, at.configuration), 'share record');
  share.magic(shareMagic);
  const shareEpoch = share.u64('epoch');
  const shareBytesRead = share.u8('present') === 1 ? Uint8Array.from(share.bytesOf('share', shareBytes)) : undefined;
  share.end();
  const configuration = epoch > 0 ? decodeConfiguration(sector(at.configuration, at.volumes), true) : undefined;
  if ((configuration?.epoch ?? 0) !== epoch || shareEpoch !== epoch) throw new VaultError('E_VAULT_FORMAT', `commit marker epoch ${epoch} differs from its records'`);
  const v = new ByteReader(sector(at.volumes, at.reserved), 'volume map');
  v.magic(volumesMagic);
  const volumes: VolumeEntry[] = [];
  for (let n = v.u8('count'); n > 0; n--) volumes.push({ name: v.name('volume name'), epoch: v.u64('epoch'), keyCheck: Uint8Array.from(v.bytesOf('key check', keyCheckBytes)) });
  v.end();
  if (!isZero(sector(at.reserved, vaultSectors))) throw new VaultError('E_VAULT_FORMAT', 'reserved sectors are not zero');
  try {
    checkName('member id', memberId, memberIdBytesMax);
    checkVolumes(volumes, epoch);
  } catch (err) {
    throw new VaultError('E_VAULT_FORMAT', (err as Error).message);
  }
  return { generation, memberId, configuration, share: shareBytesRead, volumes };
}
