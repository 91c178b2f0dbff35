// Typed rejections of the attestation layer. Everything that comes from the
// world (evidence bytes, manifests, key files, report signatures) is refused
// with an AttestationError whose `code` is stable and whose message names the
// field; callers branch on `code`, never on the message.

export type AttestationErrorCode =
  /** Evidence, chip certificate or report bytes are malformed (lengths, magic, version, trailing bytes). */
  | 'E_ATT_FORMAT'
  /** The endorsement chain does not lead to a trusted root of the evidence's platform. */
  | 'E_ATT_CHAIN'
  /** The recorded measurement is not the one recomputed from the build digest and launch config. */
  | 'E_ATT_MEASUREMENT'
  /** The build digest is not one of the manifest's accepted builds. */
  | 'E_ATT_BUILD'
  /** A signature (evidence or per-reply report) does not verify. */
  | 'E_ATT_SIGNATURE'
  /** A certificate of the chain is not valid at the time the evidence is checked as of. */
  | 'E_ATT_EXPIRED'
  /** The platform reports a state the manifest does not accept: debug mode, a TCB below the minimum, a policy bit. */
  | 'E_ATT_POLICY'
  /** This platform's evidence cannot be obtained here (no device, no configfs-tsm, wrong provider). */
  | 'E_ATT_PLATFORM'
  /** The launch configuration is out of bounds or not the one the caller expects. */
  | 'E_ATT_CONFIG'
  /** The evidence reports other report data than the session's (or, for hardware, other than its envelope binds). */
  | 'E_ATT_REPORT_DATA'
  /** A reference-values manifest is malformed or out of bounds. */
  | 'E_ATT_MANIFEST'
  /** A platform key or certificate file is missing, unreadable, too open or corrupt. */
  | 'E_ATT_KEY_FILE'
  /** A disk-node bundle cannot be built or does not export the expected entry point. */
  | 'E_ATT_BUNDLE';

export class AttestationError extends Error {
  readonly code: AttestationErrorCode;

  constructor(code: AttestationErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'AttestationError';
    this.code = code;
  }
}
