// `teearray attest verify`: checks one piece of native TEE evidence offline
// (an AWS Nitro attestation document, an SEV-SNP report, a TDX quote) and
// prints what it checked and what it found. Exit code 0 only when every
// check passed; 1 when the evidence is refused; 2 for usage errors.
import { readFile, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { toHex } from '../attestation/bytes.ts';
import type { HardwarePlatform } from '../attestation/hardware/native-claims.ts';
import { inspectEvidence, type Inspection } from '../attestation/inspect.ts';
import { tdxQuoteDeclaredLength } from '../attestation/tdx/tdx-quote.ts';
import { CliError, exitCodes } from './cli-error.ts';
import { loadManifest } from './manifest-file.ts';

export const attestHelp = `usage: teearray attest verify --platform nitro|sev-snp|tdx --evidence FILE [options]

Verifies one piece of native TEE evidence offline and prints every check it
made and what the evidence says (measurements, report data, chain, validity).

  --platform P        nitro (COSE_Sign1 attestation document), sev-snp (1184-byte report), tdx (quote v4)
  --evidence FILE     the evidence: binary, or hex or base64 text
  --certs FILE        sev-snp: the VCEK (DER or PEM; ASK and ARK may follow) or the configfs-tsm auxblob
  --manifest FILE     pinned roots and reference values to check against (default: the platform's
                      known roots, and measurements shown but not judged)
  --at TIME           check certificates as of this ISO 8601 time (default: a Nitro document's own
                      timestamp; now for the others)
  --report-data HEX   the 64 bytes (128 hex digits) the evidence must report
  --ignore-trailing   tdx: cut the file at the quote's declared length (published samples are often
                      padded); the cut is reported. Without it trailing bytes are refused
  --json              print the result as JSON

Exit code: 0 verified, 1 refused, 2 usage.`;

const platforms: Record<string, HardwarePlatform> = { nitro: 'aws-nitro-v1', 'sev-snp': 'amd-sev-snp-v1', tdx: 'intel-tdx-v1' };
/** Largest evidence or certificate file read (hex text of a 32 KiB quote fits). */
const inputFileBytesMax = 256 * 1024;

/** File bytes: raw, or decoded when the file is hex or base64 text (as projects publish samples). */
async function readEvidenceFile(path: string, option: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    if ((await stat(path)).size > inputFileBytesMax) throw new CliError(`${option} ${path} is larger than ${inputFileBytesMax} bytes`);
    bytes = await readFile(path);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`${option} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const text = bytes.toString('latin1').trim();
  if (text.length > 0 && text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  if (text.length > 0 && !text.startsWith('-----BEGIN') && /^[A-Za-z0-9+/\s]+={0,2}$/.test(text)) return new Uint8Array(Buffer.from(text.replace(/\s/g, ''), 'base64'));
  return new Uint8Array(bytes);
}

function parseTime(value: string): Date {
  const at = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) || Number.isNaN(at.getTime())) {
    throw new CliError(`--at must be an ISO 8601 time such as 2026-01-01T00:00:00Z, got "${value}"`);
  }
  return at;
}

function jsonOf(result: Inspection, at: Date | undefined): unknown {
  const claims = result.claims;
  return {
    platform: result.platform,
    verified: result.verified,
    ...(result.error ? { error: result.error } : {}),
    checkedAt: (at ?? claims?.issuedAt ?? null)?.toISOString?.() ?? null,
    checks: result.checks,
    notChecked: result.notChecked,
    ...(claims
      ? {
          measurements: Object.fromEntries(Object.entries(claims.measurements).map(([name, value]) => [name, toHex(value)])),
          reportData: toHex(claims.reportData),
          debug: claims.debug,
          rootFingerprint: toHex(claims.rootFingerprint),
          issuedAt: claims.issuedAt?.toISOString() ?? null,
          details: claims.details,
        }
      : {}),
    ...(result.manifestEntry ? { manifestEntry: result.manifestEntry } : {}),
  };
}

function render(result: Inspection): string {
  const lines = [`platform     ${result.platform}`, `result       ${result.verified ? 'VERIFIED' : `REFUSED  ${result.error!.message}`}`, ''];
  for (const c of result.checks) lines.push(`  ok  ${c.check}: ${c.detail}`);
  if (result.error) lines.push(`  NO  ${result.error.code}`);
  const claims = result.claims;
  if (claims) {
    lines.push('', 'measurements');
    for (const [name, value] of Object.entries(claims.measurements)) lines.push(`  ${name.padEnd(14)} ${toHex(value)}`);
    lines.push('', `report data    ${claims.reportData.length ? toHex(claims.reportData) : '(not 64 bytes)'}`, `debug          ${claims.debug}`, `root           sha256 ${toHex(claims.rootFingerprint)}`);
    if (claims.issuedAt) lines.push(`issued at      ${claims.issuedAt.toISOString()}`);
    lines.push('', 'details');
    for (const [name, value] of Object.entries(claims.details)) lines.push(`  ${name.padEnd(22)} ${value}`);
  }
  if (result.notChecked.length) lines.push('', 'not checked', ...result.notChecked.map((n) => `  - ${n}`));
  if (result.manifestEntry) {
    lines.push('', 'manifest entry accepting this image (add it to "platforms" once you trust the image):');
    lines.push(...JSON.stringify(result.manifestEntry, null, 2).split('\n').map((l) => `  ${l}`));
  }
  return lines.join('\n') + '\n';
}

async function verifyCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      platform: { type: 'string' },
      evidence: { type: 'string' },
      certs: { type: 'string' },
      manifest: { type: 'string' },
      at: { type: 'string' },
      'report-data': { type: 'string' },
      'ignore-trailing': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const platform = platforms[values.platform ?? ''];
  if (!platform) throw new CliError(`--platform must be nitro, sev-snp or tdx${values.platform ? `, got "${values.platform}"` : ''}`);
  if (!values.evidence) throw new CliError('--evidence is required');
  if (values.certs && platform !== 'amd-sev-snp-v1') throw new CliError('--certs applies to --platform sev-snp only');
  const reportData = values['report-data'];
  if (reportData !== undefined && !/^[0-9a-f]{128}$/.test(reportData)) throw new CliError('--report-data must be 128 lowercase hex digits (64 bytes)');
  if (values['ignore-trailing'] && platform !== 'intel-tdx-v1') throw new CliError('--ignore-trailing applies to --platform tdx only');
  const at = values.at === undefined ? undefined : parseTime(values.at);
  let evidence = await readEvidenceFile(values.evidence, '--evidence');
  const declared = values['ignore-trailing'] ? tdxQuoteDeclaredLength(evidence) : null;
  const cut = declared !== null && declared < evidence.length ? evidence.length - declared : 0;
  if (cut) evidence = evidence.subarray(0, declared!);
  const result = inspectEvidence({
    platform,
    evidence,
    certs: values.certs ? await readEvidenceFile(values.certs, '--certs') : new Uint8Array(0),
    ...(values.manifest ? { manifest: await loadManifest(values.manifest) } : {}),
    ...(at ? { at } : {}),
    ...(reportData ? { reportData: new Uint8Array(Buffer.from(reportData, 'hex')) } : {}),
  });
  if (cut) result.checks.unshift({ check: 'trailing bytes', detail: `${cut} bytes after the quote's declared end ignored (--ignore-trailing)` });
  process.stdout.write(values.json ? `${JSON.stringify(jsonOf(result, at), null, 2)}\n` : render(result));
  return result.verified ? exitCodes.ok : exitCodes.failure;
}

export async function attestCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify') throw new CliError(`unknown attest command "${sub ?? ''}"\n\n${attestHelp}`);
  return verifyCommand(rest);
}
