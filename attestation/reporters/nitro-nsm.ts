// AWS Nitro Enclaves attestation documents. The Nitro Secure Module answers
// CBOR requests through ioctl on /dev/nsm, which Node cannot issue without
// native code. So a small helper program, built from AWS's
// aws-nitro-enclaves-nsm-api crate and measured into the enclave image with
// the node, does the ioctl: stdin = the 64 bytes of user_data, stdout = the
// COSE_Sign1 document, exit 0. The node runs it once per session and passes
// the bytes along undecoded (the manager's verifier decodes and checks them).
// Why a helper and not an addon or the parent: docs/TEE_PROVIDERS.md.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { checkReportData, platformError, type NativeEvidence, type NativeReporter } from './native-reporter.ts';

export interface NitroNsmOptions {
  /** Checked for presence only: the helper opens the NSM itself. */
  device?: string;
  helper?: string;
  /** An attestation takes milliseconds; a helper still running after this is killed. */
  timeoutMs?: number;
}

/** A document with its four-certificate cabundle is about 4.5 KiB. */
const DOCUMENT_MAX = 16 * 1024;
/** How much of the helper's stderr goes into an error message. */
const STDERR_SHOWN = 200;

export function createNitroNsmReporter({
  device = '/dev/nsm',
  helper = '/usr/bin/teearray-nsm-attest',
  timeoutMs = 5000,
}: NitroNsmOptions = {}): NativeReporter {
  try {
    statSync(device);
  } catch (err) {
    throw platformError(`${device} not found: not inside a Nitro enclave (or the nsm driver is not loaded)`, err);
  }
  try {
    accessSync(helper, constants.X_OK);
  } catch (err) {
    throw platformError(`NSM helper ${helper} is missing or not executable: not inside a teearray Nitro enclave image`, err);
  }

  return Object.freeze({
    platform: 'aws-nitro-v1' as const,
    report(reportData: Uint8Array): NativeEvidence {
      checkReportData(reportData);
      const run = spawnSync(helper, [], {
        input: reportData,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: DOCUMENT_MAX, // stdout and stderr each; beyond it the helper is killed (ENOBUFS)
        env: {}, // the helper needs nothing from the node's environment
        stdio: 'pipe',
      });
      if (run.error !== undefined) throw platformError(`NSM helper ${helper} failed: ${run.error.message}`, run.error);
      if (run.status !== 0) {
        const said = run.stderr.subarray(0, STDERR_SHOWN).toString('utf8').replace(/[^\x20-\x7e]/g, '?');
        throw platformError(`NSM helper ${helper} exited with ${run.signal ?? run.status}: ${said}`);
      }
      if (run.stdout.length === 0) throw platformError(`NSM helper ${helper} returned no document`);
      return { provider: 'nitro_nsm', evidence: new Uint8Array(run.stdout), aux: new Uint8Array(0) };
    },
  });
}
