// The trusted dealer of an epoch: draws a new rack secret, splits it among
// the members, and builds the configuration that lists each share's digest
// and seals the older epochs' secrets under the new one. Used for the
// first epoch (no priors) and for every rotation (the priors are the old
// epoch's secret plus what its configuration carried).
import { randomBytes } from 'node:crypto';
import { openPriors, sealPriors, checkConfiguration, rackIdBytes, type Configuration, type EpochSecret } from './configuration.ts';
import { secretCheck } from './epoch-keys.ts';
import { shareDigest, splitSecret } from './shamir.ts';

export interface Deal {
  configuration: Configuration;
  /** shares[i] is members[i]'s share (x = i + 1); the caller zeroes them once stored. */
  shares: Uint8Array[];
  /** The new rack secret; the caller zeroes it. */
  secret: Uint8Array;
}

export interface DealOptions {
  /** Random for a new rack. */
  rackId?: Uint8Array;
  epoch: number;
  threshold: number;
  memberIds: string[];
  /** Older epochs' secrets to seal into the configuration. */
  priors: readonly EpochSecret[];
}

export function dealEpoch(opts: DealOptions): Deal {
  const secret = randomBytes(32);
  const rackId = opts.rackId ?? randomBytes(rackIdBytes);
  const shares = splitSecret(secret, opts.memberIds.length, opts.threshold);
  const configuration: Configuration = {
    rackId,
    epoch: opts.epoch,
    threshold: opts.threshold,
    members: opts.memberIds.map((id, i) => ({ id, shareDigest: shareDigest(shares[i]) })),
    secretCheck: secretCheck(secret, rackId, opts.epoch),
    sealedPriors: sealPriors(secret, rackId, opts.epoch, opts.priors),
  };
  checkConfiguration(configuration);
  return { configuration, shares, secret };
}

/** What the next epoch's configuration seals: `current`'s secret and every prior it carries (the caller zeroes them). */
export function priorsAfter(current: Configuration, secret: Uint8Array): EpochSecret[] {
  return [{ epoch: current.epoch, secret: Uint8Array.from(secret) }, ...openPriors(current, secret)];
}
