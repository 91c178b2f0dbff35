// Tests that find the three safety holes of issue #9 (recovery applying an
// uncommitted-elsewhere entry, two membership records with one version, a
// batch run late on an old session) fail until the fix in array-manager/,
// journal/ and disk-node/ is merged. They run under this tap `todo`, so CI
// stays green and still prints what they find; the merge removes it here.
export const pendingFix: string | undefined = 'fixed by the safety-holes change (issue #9)';
