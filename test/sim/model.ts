// The reference model the simulator checks the array against: for each
// sector, its last acknowledged value, plus the writes whose outcome is not
// known (in flight at a crash, or rejected after they may have committed).
// A read may return the acknowledged value or the value of a later unknown
// write; an unknown transaction shows up whole or not at all.

const zero = Buffer.alloc(4096);

export interface UnknownWrite {
  id: number;
  values: Map<number, Buffer>;
  atomic: boolean;
}

export class DiskModel {
  private readonly acked = new Map<number, Buffer>();
  private unknown: UnknownWrite[] = [];
  readonly touched = new Set<number>();

  ack(values: Map<number, Buffer>): void {
    for (const [sector, value] of values) {
      this.acked.set(sector, value);
      this.touched.add(sector);
      // An acknowledged write supersedes any unknown write to the sector issued before it.
      for (const u of this.unknown) u.values.delete(sector);
    }
    this.unknown = this.unknown.filter((u) => u.values.size > 0);
  }

  addUnknown(u: UnknownWrite): void {
    for (const s of u.values.keys()) this.touched.add(s);
    this.unknown.push(u);
  }

  allowed(sector: number): Buffer[] {
    const values = [this.acked.get(sector) ?? zero];
    for (const u of this.unknown) {
      const v = u.values.get(sector);
      if (v) values.push(v);
    }
    return values;
  }

  /**
   * Checks a full read of `sectors` (observed values) and, if it is allowed,
   * takes it as the new acknowledged state: after recovery, what is there is
   * durable. Returns the violations found.
   */
  settle(observed: Map<number, Buffer>): string[] {
    const violations: string[] = [];
    for (const [sector, value] of observed) {
      if (!this.allowed(sector).some((a) => a.equals(value))) violations.push(`sector ${sector}: read a value that was never written there or was overwritten by an acknowledged write`);
    }
    for (const u of this.unknown) {
      if (!u.atomic) continue;
      // A sector shows the transaction only if no other write could have put the same bytes there.
      const shown = [...u.values].filter(([s, v]) => observed.get(s)?.equals(v) && !this.sameValueElsewhere(u, s, v));
      if (shown.length > 0 && shown.length < u.values.size) {
        const landed = new Set(shown.map(([s]) => s));
        const missing = [...u.values.keys()].filter((s) => !landed.has(s));
        // A sector may show another unknown write's value instead; that is only a violation if nothing explains it.
        if (missing.some((s) => !this.explainedByOther(u, s, observed.get(s)!))) {
          violations.push(`transaction ${u.id} is torn: sectors ${[...landed]} landed, ${missing} did not`);
        }
      }
    }
    if (violations.length === 0) {
      for (const [sector, value] of observed) this.acked.set(sector, value);
      this.unknown = [];
    }
    return violations;
  }

  private sameValueElsewhere(u: UnknownWrite, sector: number, value: Buffer): boolean {
    if ((this.acked.get(sector) ?? zero).equals(value)) return true;
    return this.unknown.some((o) => o !== u && o.values.get(sector)?.equals(value));
  }

  private explainedByOther(u: UnknownWrite, sector: number, value: Buffer): boolean {
    const later = this.unknown.slice(this.unknown.indexOf(u) + 1);
    return later.some((o) => o.values.get(sector)?.equals(value));
  }
}
