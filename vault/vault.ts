// The vault of one trust-quorum member on its array: its id, the committed
// configuration, its share of the current epoch and the volume map, kept in
// a reserved region of a virtual disk and changed only by whole-region
// transactions (vault-records.ts). A rotation — new share, new
// configuration, updated volume map — is therefore one journal entry:
// after any crash the vault is wholly in the old epoch or wholly in the new.
//
// Built on the virtual disk's public API only (readSectors, transaction,
// flush). The vault keeps public state in memory; the share is read from
// the disk when asked for and handed back in a buffer the caller zeroes.
// Secret bytes are never put in an error message or a log line.
import { checkConfiguration, checkMemberShare, checkSecret, configurationDigest, memberX, secretOfEpoch, type Configuration } from './configuration.ts';
import { checkName, volumeKey } from './epoch-keys.ts';
import { combineShares, reconstituteShare, shareX } from './shamir.ts';
import { VaultError } from './vault-errors.ts';
import { memberIdBytesMax, vaultSectors } from './vault-limits.ts';
import { decodeRecords, encodeRecords, sectorBytes, type VaultRecords, type VolumeEntry } from './vault-records.ts';
import { equalBytes } from '@noble/ciphers/utils.js';

/** What the vault needs of a virtual disk: its public read and transaction API. */
export interface VaultDisk {
  readonly sectors: number;
  readonly blockBytes: number;
  readSectors(first: number, count: number): Promise<Uint8Array>;
  transaction(writes: { sector: number; data: Uint8Array }[]): Promise<void>;
  flush(): Promise<void>;
  /** Whether the array trims journal copies after apply (a VirtualDisk says; a wrapper may not know). */
  readonly keyErasure?: boolean;
}

export interface VaultOptions {
  /** First sector of the vault's region (default 0); the region is `vaultSectors` sectors. */
  baseSector?: number;
  /** Open a vault on an array that is not in key-erasure mode (default: refused, docs/VAULT.md "Key erasure"). */
  withoutKeyErasure?: boolean;
}

/** A volume moved to the epoch being committed, with the key check of its new key. */
export interface VolumeUpdate {
  name: string;
  keyCheck: Uint8Array;
}

/** The public view of the vault (no secret). */
export interface VaultSummary {
  memberId: string;
  generation: number;
  configuration?: Configuration;
  volumes: VolumeEntry[];
}

export async function openVault(disk: VaultDisk, opts: VaultOptions = {}): Promise<Vault> {
  const base = opts.baseSector ?? 0;
  if (disk.blockBytes !== sectorBytes) throw new VaultError('E_VAULT_ARG', `the disk's sectors are ${disk.blockBytes} bytes, not ${sectorBytes}`);
  if (!Number.isInteger(base) || base < 0 || base + vaultSectors > disk.sectors) throw new VaultError('E_VAULT_ARG', `vault region [${base}, ${base + vaultSectors}) is outside the disk's ${disk.sectors} sectors`);
  if (disk.keyErasure === false && !opts.withoutKeyErasure) {
    throw new VaultError('E_VAULT_KEY_ERASURE', 'the array keeps journal copies after apply (created without key-erasure mode): an old share would outlive its rotation');
  }
  const vault = new Vault(disk, base);
  await vault.reload();
  return vault;
}

export class Vault {
  private records: VaultRecords | undefined;
  /** Operations run one at a time: each commit builds on the state the previous one left. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly disk: VaultDisk,
    private readonly base: number,
  ) {}

  /** Reads the region and keeps its public part; the share bytes are zeroed here. */
  async reload(): Promise<void> {
    const region = await this.disk.readSectors(this.base, vaultSectors);
    try {
      const records = decodeRecords(region);
      records?.share?.fill(0);
      if (records) delete records.share;
      this.records = records;
    } finally {
      region.fill(0);
    }
  }

  get initialised(): boolean {
    return this.records !== undefined;
  }

  summary(): VaultSummary {
    const r = this.committed();
    return { memberId: r.memberId, generation: r.generation, configuration: r.configuration, volumes: r.volumes.map((v) => ({ ...v })) };
  }

  /** The committed configuration, or undefined before the first share. */
  configuration(): Configuration | undefined {
    return this.committed().configuration;
  }

  /** Writes an empty vault for `memberId`; refused when the region already holds one. */
  init(memberId: string): Promise<void> {
    return this.serial(async () => {
      checkName('member id', memberId, memberIdBytesMax);
      if (this.records) throw new VaultError('E_VAULT_STATE', `the vault is already initialised for ${this.records.memberId}`);
      await this.commit({ generation: 1, memberId, volumes: [] });
    });
  }

  /**
   * Stores this member's share of `configuration` (checked against its digest)
   * and moves the listed volumes to its epoch, all in one transaction. The
   * epoch must be newer than the committed one (or the same configuration
   * again, when a dealer retries): an older one would be a rollback.
   * The vault zeroes its own copies; `share` stays the caller's.
   */
  storeShare(configuration: Configuration, share: Uint8Array, volumes: readonly VolumeUpdate[] = []): Promise<void> {
    return this.serial(async () => {
      const current = this.committed();
      checkConfiguration(configuration);
      checkMemberShare(configuration, current.memberId, share);
      this.checkNewer(configuration);
      const moved = new Map(volumes.map((v) => [v.name, v]));
      if (moved.size !== volumes.length) throw new VaultError('E_VAULT_ARG', 'a volume is listed twice');
      const kept = current.volumes.filter((v) => !moved.has(v.name));
      const next = [...kept, ...volumes.map((v) => ({ name: v.name, epoch: configuration.epoch, keyCheck: Uint8Array.from(v.keyCheck) }))];
      await this.commit({ generation: current.generation + 1, memberId: current.memberId, configuration, share, volumes: next });
    });
  }

  /** A rotation: storeShare() for a configuration of the same rack, of a later epoch. */
  async rotate(configuration: Configuration, share: Uint8Array, volumes: readonly VolumeUpdate[] = []): Promise<void> {
    const current = this.committed().configuration;
    if (!current) throw new VaultError('E_VAULT_STATE', 'no configuration committed yet: store the first share');
    if (configuration.epoch <= current.epoch) throw new VaultError('E_VAULT_STALE', `epoch ${configuration.epoch} is not after the committed ${current.epoch}`);
    return this.storeShare(configuration, share, volumes);
  }

  /** This member's share of the committed epoch, in a buffer the caller zeroes. */
  readShare(): Promise<Uint8Array> {
    return this.serial(async () => {
      const region = await this.disk.readSectors(this.base, vaultSectors);
      try {
        const records = decodeRecords(region);
        if (!records?.share || !records.configuration) throw new VaultError('E_VAULT_STATE', 'no share stored');
        return records.share;
      } finally {
        region.fill(0);
      }
    });
  }

  /**
   * This member's share rebuilt from `threshold` other members' shares of the
   * committed epoch (each checked against its digest first), checked against
   * this member's digest. The caller zeroes it (and may storeShare() it).
   */
  reconstituteShare(others: readonly Uint8Array[]): Uint8Array {
    const c = this.requireConfiguration();
    checkOthers(c, others);
    const share = reconstituteShare(others, c.threshold, memberX(c, this.committed().memberId));
    try {
      checkMemberShare(c, this.committed().memberId, share);
    } catch (err) {
      share.fill(0);
      throw err;
    }
    return share;
  }

  /** The key of `volume` in `epoch` (default: the volume's recorded epoch), from the committed epoch's rack secret. */
  volumeKey(secret: Uint8Array, volume: string, epoch?: number): Uint8Array {
    const c = this.requireConfiguration();
    const wanted = epoch ?? this.committed().volumes.find((v) => v.name === volume)?.epoch;
    if (wanted === undefined) throw new VaultError('E_VAULT_EPOCH', `volume ${volume} is not in the volume map; give an epoch`);
    const epochSecret = secretOfEpoch(c, secret, wanted);
    try {
      return volumeKey(epochSecret, c.rackId, wanted, volume);
    } finally {
      epochSecret.fill(0);
    }
  }

  private committed(): VaultRecords {
    if (!this.records) throw new VaultError('E_VAULT_STATE', 'the vault is not initialised');
    return this.records;
  }

  private requireConfiguration(): Configuration {
    const c = this.committed().configuration;
    if (!c) throw new VaultError('E_VAULT_STATE', 'no configuration committed yet');
    return c;
  }

  /** Refuses a configuration of another rack, or of an epoch that is not newer (the same one again is allowed). */
  private checkNewer(next: Configuration): void {
    const current = this.committed().configuration;
    if (!current) return;
    if (!equalBytes(current.rackId, next.rackId)) throw new VaultError('E_VAULT_ARG', 'the configuration is of another rack');
    if (next.epoch > current.epoch) return;
    if (next.epoch === current.epoch && equalBytes(configurationDigest(next), configurationDigest(current))) return;
    throw new VaultError('E_VAULT_STALE', `epoch ${next.epoch} is not after the committed ${current.epoch}`);
  }

  /** Writes the whole region as one transaction, waits for its apply (key erasure trims then), and adopts it. */
  private async commit(next: VaultRecords): Promise<void> {
    const region = encodeRecords(next);
    try {
      const writes = Array.from({ length: vaultSectors }, (_, i) => ({ sector: this.base + i, data: region.subarray(i * sectorBytes, (i + 1) * sectorBytes) }));
      await this.disk.transaction(writes);
      // The flush waits for the entry's apply: in key-erasure mode the journal copies are trimmed by then.
      await this.disk.flush();
    } finally {
      region.fill(0);
    }
    this.records = { generation: next.generation, memberId: next.memberId, configuration: next.configuration, volumes: next.volumes };
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => {});
    return result;
  }
}

/** Checks each share against the digest of the member at its x in `c`. */
function checkOthers(c: Configuration, shares: readonly Uint8Array[]): void {
  for (const s of shares) {
    const x = shareX(s);
    if (!(x >= 1 && x <= c.members.length)) throw new VaultError('E_VAULT_SHARES', `a share has x = ${x}; epoch ${c.epoch} has ${c.members.length} members`);
    checkMemberShare(c, c.members[x - 1].id, s);
  }
}

/** The rack secret of `c`'s epoch from `threshold` members' shares, each checked against its digest; the caller zeroes it. */
export function unlockSecret(c: Configuration, shares: readonly Uint8Array[]): Uint8Array {
  checkOthers(c, shares.slice(0, c.threshold));
  const secret = combineShares(shares, c.threshold);
  checkSecret(c, secret);
  return secret;
}
