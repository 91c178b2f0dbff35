// The assertion the adversarial tests share: `f` must throw an
// AttestationError with `code` (and, given, a message matching `message`);
// acceptance or an untyped error fails the test with what happened.
import type { Test } from 'tap';
import { AttestationError, type AttestationErrorCode } from '../../attestation/errors.ts';

export function refused(t: Test, f: () => unknown, code: AttestationErrorCode, name: string, message?: RegExp): void {
  try {
    f();
    t.fail(`${name}: accepted`);
  } catch (error) {
    if (!(error instanceof AttestationError)) {
      t.fail(`${name}: untyped ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
      return;
    }
    t.equal(error.code, code, `${name}: ${error.message}`);
    if (message) t.match(error.message, message, `${name}: message`);
  }
}
