// `teearray audit`: what an auditor checks before trusting the nodes. It
// rebuilds the disk node from source, lists its source files with line counts
// and its whole dependency tree, prints the build digest (and the launch
// measurement for a given manager key and size), and says whether the
// rebuilt bytes equal the bundle in dist/ that nodes run.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { auditDiskNode, renderAudit } from '../attestation/audit.ts';
import { buildDigest } from '../attestation/measurement.ts';
import { exitCodes } from './cli-error.ts';
import { hexKeyOption, intOption } from './options.ts';
import { diskNodeBundlePath } from './paths.ts';

export const auditHelp = `usage: teearray audit [--json] [--manager-key HEX --sectors N]

Rebuilds the disk node from source and reports its sources, dependencies,
build digest and, given a launch configuration, the measurement nodes
launched with it attest to. Exits 1 if the sources exceed the size bound or
the rebuilt bundle differs from dist/disk-node.mjs.`;

export async function auditCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean', default: false }, 'manager-key': { type: 'string' }, sectors: { type: 'string' } },
    strict: true,
  });
  const config =
    values['manager-key'] !== undefined || values.sectors !== undefined
      ? { managerPublicKey: hexKeyOption(values['manager-key'], '--manager-key'), sectorBytes: 4096, sectorCount: intOption(values.sectors, '--sectors', 1, 0xffffffff) }
      : undefined;
  const report = await auditDiskNode({ config });
  const dist = await readFile(diskNodeBundlePath).catch(() => undefined);
  const distDigest = dist ? Buffer.from(buildDigest(dist)).toString('hex') : undefined;
  const reproducible = distDigest === undefined ? undefined : distDigest === report.buildDigest;
  if (values.json) {
    const measurement = report.measurement ?? report.buildDigest;
    const out = { ...report, measurement, measurementOf: report.measurement ? 'launch' : 'build', distBuildDigest: distDigest, reproducible };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } else {
    process.stdout.write(renderAudit(report));
    if (distDigest === undefined) process.stdout.write(`dist/disk-node.mjs: not built (npm run build)\n`);
    else process.stdout.write(`dist/disk-node.mjs: ${distDigest} (${reproducible ? 'matches the rebuild' : 'DIFFERS from the rebuild'})\n`);
  }
  return report.withinBound && reproducible !== false ? exitCodes.ok : exitCodes.failure;
}
