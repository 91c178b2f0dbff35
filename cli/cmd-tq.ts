// `teearray tq`: a trust quorum whose members keep their shares on their own
// arrays (docs/VAULT.md). A trusted dealer deals and rotates; any t members'
// shares unlock the rack secret and the volume keys of any epoch carried;
// a member that lost its share or missed a rotation gets it back from t
// others. No secret is printed unless --reveal asks for it.
import { parseArgs } from 'node:util';
import { checkMemberShare, configurationDigest, memberX, secretOfEpoch, type Configuration } from '../vault/configuration.ts';
import { dealEpoch, priorsAfter } from '../vault/dealer.ts';
import { keyCheck, volumeKey } from '../vault/epoch-keys.ts';
import { reconstituteShare } from '../vault/shamir.ts';
import { unlockSecret, type VolumeUpdate } from '../vault/vault.ts';
import { membersMax, volumesMax } from '../vault/vault-limits.ts';
import { CliError, exitCodes } from './cli-error.ts';
import { intOption } from './options.ts';
import { abandonedOpens, closeMembers, openMember, openMembers, type MemberVault } from './tq-member.ts';

export const tqHelp = `usage: teearray tq ACTION [options] [--json]

  deal --threshold T --members CONFIG... [--volume NAME]...
        a trusted dealer draws a new rack secret, splits it among the member
        arrays (every one must answer) and stores each member's share with
        the configuration (epoch 1); --volume records volumes under epoch 1
  show --config CONFIG [--reveal]
        the member's configuration, epoch and volume map; its share only with --reveal
  rotate --members CONFIG... [--volume NAME]...
        t members' shares give the current secret; a new epoch is dealt to
        every member that answers, each in one transaction, sealing the older
        secrets; --volume moves volumes to the new epoch
  recover-share --member ID --config CONFIG --members CONFIG...
        rebuilds member ID's share of the newest epoch from t others and
        stores it, with the configuration, on ID's array (CONFIG)
  unlock --members CONFIG... [--volume NAME [--epoch E]] [--reveal]
        combines t members' shares of the newest epoch; with --volume, the
        volume's key of epoch E (default: the epoch its map records) is
        checked and printed only with --reveal

--wait-seconds S (default 10): a member array that does not open within S
seconds counts as unreachable (its nodes may all be gone).
CONFIG is a member array's config file (teearray local --tq-members N
writes them under DATA_DIR/tq/). Exit codes as for every command: 2 usage,
3 too few members answer, 1 anything else.`;

type Options = Record<string, string | boolean | string[] | undefined>;

function parse(argv: string[]): { action: string; values: Options; configs: string[] } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      threshold: { type: 'string' },
      members: { type: 'string', multiple: true },
      config: { type: 'string' },
      member: { type: 'string' },
      volume: { type: 'string', multiple: true },
      epoch: { type: 'string' },
      'wait-seconds': { type: 'string', default: '10' },
      reveal: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const [action, ...rest] = positionals;
  // `--members a.json b.json c.json`: the files after the first are positionals.
  const configs = [...((values.members as string[] | undefined) ?? []), ...rest];
  if (configs.length > membersMax) throw new CliError(`--members: at most ${membersMax} config files`);
  if (new Set(configs).size !== configs.length) throw new CliError('--members: a config file is listed twice');
  if (((values.volume as string[] | undefined) ?? []).length > volumesMax) throw new CliError(`--volume: at most ${volumesMax}`);
  return { action, values, configs };
}

/** How long a command waits for a member array to open (--wait-seconds). */
let waitMs = 10_000;

export async function tqCommand(argv: string[]): Promise<number> {
  const { action, values, configs } = parse(argv);
  waitMs = intOption(values['wait-seconds'] as string, '--wait-seconds', 1, 3600) * 1000;
  const code = await runAction(action, values, configs);
  // Opens given up on would keep the process alive until their managers stop waiting: nothing is left to do.
  if (abandonedOpens() > 0) process.exit(code);
  return code;
}

async function runAction(action: string, values: Options, configs: string[]): Promise<number> {
  const json = values.json as boolean;
  const volumes = (values.volume as string[] | undefined) ?? [];
  switch (action) {
    case 'deal':
      return output(json, await deal(configs, intOption(values.threshold as string | undefined, '--threshold', 2, membersMax), volumes));
    case 'show':
      return output(json, await show(required(values.config, '--config'), values.reveal as boolean));
    case 'rotate':
      return output(json, await rotate(configs, volumes));
    case 'recover-share':
      return output(json, await recoverShare(required(values.member, '--member'), required(values.config, '--config'), configs));
    case 'unlock':
      return output(json, await unlock(configs, volumes, values.epoch as string | undefined, values.reveal as boolean));
    default:
      throw new CliError(`unknown action "${action ?? ''}"\n\n${tqHelp}`);
  }
}

function required(v: unknown, name: string): string {
  if (typeof v !== 'string' || !v) throw new CliError(`${name} is required`);
  return v;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** What the commands report: JSON with --json, else `key: value` lines. */
function output(json: boolean, report: Record<string, unknown>): number {
  if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else for (const [k, v] of Object.entries(report)) process.stdout.write(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
  return exitCodes.ok;
}

function describe(c: Configuration) {
  return {
    rackId: hex(c.rackId),
    epoch: c.epoch,
    threshold: c.threshold,
    digest: hex(configurationDigest(c)),
    members: c.members.map((m, i) => ({ id: m.id, x: i + 1, shareDigest: hex(m.shareDigest) })),
  };
}

/** Runs `work` over the members that opened, then closes them all; too few answering is exit 3. */
async function withMembers<T>(configs: string[], needed: number, work: (open: MemberVault[], failed: { config: string; error: string }[]) => Promise<T>): Promise<T> {
  if (configs.length === 0) throw new CliError('--members CONFIG... is required');
  const { open, failed } = await openMembers(configs, waitMs);
  try {
    if (open.length < needed) throw new CliError(`${open.length} of ${configs.length} member arrays answer; ${needed} needed (${failed.map((f) => `${f.config}: ${f.error}`).join('; ')})`, exitCodes.unavailable);
    return await work(open, failed);
  } finally {
    await closeMembers(open);
  }
}

function volumeUpdates(secret: Uint8Array, c: Configuration, names: string[]): VolumeUpdate[] {
  return names.map((name) => {
    const key = volumeKey(secret, c.rackId, c.epoch, name);
    const update = { name, keyCheck: keyCheck(key) };
    key.fill(0);
    return update;
  });
}

async function deal(configs: string[], threshold: number, volumes: string[]) {
  if (configs.length < threshold) throw new CliError(`--threshold ${threshold} needs at least as many --members (${configs.length} given)`);
  return withMembers(configs, configs.length, async (open) => {
    const ids = open.map((m) => m.id);
    if (new Set(ids).size !== ids.length) throw new CliError(`member ids repeat: ${ids.join(', ')}`);
    for (const m of open) if (m.vault.initialised && m.vault.configuration()) throw new CliError(`${m.config}: already holds epoch ${m.vault.configuration()!.epoch}; use rotate`);
    for (const m of open) if (!m.vault.initialised) await m.vault.init(m.id);
    const d = dealEpoch({ epoch: 1, threshold, memberIds: ids, priors: [] });
    try {
      const updates = volumeUpdates(d.secret, d.configuration, volumes);
      await Promise.all(open.map((m, i) => m.vault.storeShare(d.configuration, d.shares[i], updates)));
      return { dealt: describe(d.configuration), volumes };
    } finally {
      d.secret.fill(0);
      for (const s of d.shares) s.fill(0);
    }
  });
}

async function show(config: string, reveal: boolean) {
  const m = await openMember(config);
  try {
    if (!m.vault.initialised) return { member: m.id, initialised: false };
    const s = m.vault.summary();
    const report: Record<string, unknown> = {
      member: s.memberId,
      generation: s.generation,
      configuration: s.configuration ? describe(s.configuration) : null,
      volumes: s.volumes.map((v) => ({ name: v.name, epoch: v.epoch, keyCheck: hex(v.keyCheck) })),
    };
    if (reveal && s.configuration) {
      const share = await m.vault.readShare();
      report.share = hex(share);
      share.fill(0);
    }
    return report;
  } finally {
    await m.disk.close();
  }
}

/** The newest configuration among the open members, and the shares of it they hold (the caller zeroes them). */
async function newestShares(open: MemberVault[]): Promise<{ configuration: Configuration; holders: MemberVault[]; shares: Uint8Array[] }> {
  const configured = open.filter((m) => m.vault.initialised && m.vault.configuration());
  if (configured.length === 0) throw new CliError('no member answering holds a configuration: deal first', exitCodes.failure);
  const configuration = configured.map((m) => m.vault.configuration()!).reduce((a, b) => (b.epoch > a.epoch ? b : a));
  const digest = hex(configurationDigest(configuration));
  const holders = configured.filter((m) => hex(configurationDigest(m.vault.configuration()!)) === digest);
  if (holders.length < configuration.threshold) {
    throw new CliError(`${holders.length} answering members hold epoch ${configuration.epoch}; its threshold is ${configuration.threshold}`, exitCodes.unavailable);
  }
  const shares = await Promise.all(holders.slice(0, configuration.threshold).map((m) => m.vault.readShare()));
  return { configuration, holders: holders.slice(0, configuration.threshold), shares };
}

async function withSecret<T>(open: MemberVault[], work: (c: Configuration, secret: Uint8Array, used: string[]) => Promise<T>): Promise<T> {
  const { configuration, holders, shares } = await newestShares(open);
  let secret: Uint8Array | undefined;
  try {
    secret = unlockSecret(configuration, shares);
    return await work(configuration, secret, holders.map((m) => m.id));
  } finally {
    secret?.fill(0);
    for (const s of shares) s.fill(0);
  }
}

async function rotate(configs: string[], volumes: string[]) {
  return withMembers(configs, 2, (open, failed) =>
    withSecret(open, async (current, secret, used) => {
      const priors = priorsAfter(current, secret);
      const d = dealEpoch({ rackId: current.rackId, epoch: current.epoch + 1, threshold: current.threshold, memberIds: current.members.map((m) => m.id), priors });
      try {
        const updates = volumeUpdates(d.secret, d.configuration, volumes);
        const reached = open.filter((m) => m.vault.initialised && current.members.some((c) => c.id === m.id));
        await Promise.all(reached.map((m) => m.vault.rotate(d.configuration, d.shares[memberX(d.configuration, m.id) - 1], updates)));
        const missed = current.members.map((m) => m.id).filter((id) => !reached.some((m) => m.id === id));
        return { rotated: describe(d.configuration), sharesFrom: used, stored: reached.map((m) => m.id), missed, unreachable: failed.map((f) => f.config), volumes };
      } finally {
        d.secret.fill(0);
        for (const s of d.shares) s.fill(0);
        for (const p of priors) p.secret.fill(0);
      }
    }),
  );
}

async function recoverShare(memberId: string, config: string, configs: string[]) {
  return withMembers(configs, 2, async (open) => {
    const { configuration, holders, shares } = await newestShares(open);
    const target = await openMember(config);
    try {
      if (target.vault.initialised && target.vault.summary().memberId !== memberId) throw new CliError(`${config} holds member ${target.vault.summary().memberId}, not ${memberId}`);
      if (!target.vault.initialised) await target.vault.init(memberId);
      const share = reconstituteShare(shares, configuration.threshold, memberX(configuration, memberId));
      try {
        checkMemberShare(configuration, memberId, share);
        await target.vault.storeShare(configuration, share);
      } finally {
        share.fill(0);
      }
      return { member: memberId, epoch: configuration.epoch, sharesFrom: holders.map((m) => m.id) };
    } finally {
      for (const s of shares) s.fill(0);
      await target.disk.close();
    }
  });
}

async function unlock(configs: string[], volumes: string[], epochOption: string | undefined, reveal: boolean) {
  if (volumes.length > 1) throw new CliError('unlock takes at most one --volume');
  if (epochOption !== undefined && volumes.length === 0) throw new CliError('--epoch needs --volume');
  return withMembers(configs, 2, (open, failed) =>
    withSecret(open, async (c, secret, used) => {
      const report: Record<string, unknown> = { unlocked: true, epoch: c.epoch, rackId: hex(c.rackId), sharesFrom: used, unreachable: failed.map((f) => f.config) };
      if (volumes.length === 1) {
        const name = volumes[0];
        const recorded = used.length ? open.find((m) => m.id === used[0])!.vault.summary().volumes.find((v) => v.name === name) : undefined;
        const epoch = epochOption !== undefined ? intOption(epochOption, '--epoch', 1, c.epoch) : recorded?.epoch ?? c.epoch;
        const epochSecret = secretOfEpoch(c, secret, epoch);
        const key = volumeKey(epochSecret, c.rackId, epoch, name);
        epochSecret.fill(0);
        const check = keyCheck(key);
        report.volume = { name, epoch, keyCheck: hex(check), matchesMap: recorded ? recorded.epoch === epoch && hex(recorded.keyCheck) === hex(check) : null, ...(reveal && { key: hex(key) }) };
        key.fill(0);
      }
      return report;
    }),
  );
}
