// When a frame sent over a simulated channel reaches the other end. The
// default delivers each frame on the next turn of the event loop, so frames a
// manager sends in a loop over slots arrive in slot order. The seeded
// scheduler delays each frame by a number of scheduler ticks (a per-slot
// delay plus seeded jitter) and, among the frames due at one tick, picks a
// seeded permutation: commit and apply frames reach the participants in any
// order. Delays are counted in ticks (turns of the event loop), never in
// wall-clock time, so a run stays deterministic and fast. Frames of one lane
// (one direction of one channel) keep their order, as on a TCP connection.
import { prng } from './prng.ts';

export interface DeliveryScheduler {
  /** Runs `deliver` later; `lane` identifies one direction of one channel, `slot` the node it belongs to. */
  submit(lane: object, slot: number, deliver: () => void): void;
}

/** Today's behaviour: every frame on the next turn of the event loop, in the order sent. */
export const nextTurnDelivery: DeliveryScheduler = {
  submit: (_lane, _slot, deliver) => void setImmediate(deliver),
};

export interface SeededDeliveryOptions {
  seed: number;
  /** Extra ticks every frame to or from this slot waits (a slow link). */
  slotDelays: number[];
  /** Up to this many more ticks, drawn per frame. */
  jitter: number;
}

interface Queued {
  lane: object;
  due: number;
  deliver: () => void;
}

export class SeededDelivery implements DeliveryScheduler {
  private readonly next: () => number;
  private readonly queue: Queued[] = [];
  /** The last due tick given to each lane, so a lane never overtakes itself. */
  private readonly laneDue = new WeakMap<object, number>();
  private tick = 0;
  private pumping = false;

  constructor(private readonly opts: SeededDeliveryOptions) {
    this.next = prng(opts.seed);
  }

  submit(lane: object, slot: number, deliver: () => void): void {
    const delay = 1 + (this.opts.slotDelays[slot] ?? 0) + Math.floor(this.next() * (this.opts.jitter + 1));
    const due = Math.max(this.tick + delay, this.laneDue.get(lane) ?? 0);
    this.laneDue.set(lane, due);
    this.queue.push({ lane, due, deliver });
    if (!this.pumping) {
      this.pumping = true;
      setImmediate(() => this.pump());
    }
  }

  /** One tick: delivers every frame now due, in a seeded order that keeps each lane's order. */
  private pump(): void {
    this.tick++;
    const due = this.queue.filter((q) => q.due <= this.tick);
    while (due.length) {
      // Candidates are the first due frame of each lane.
      const heads = due.filter((q, i) => due.findIndex((o) => o.lane === q.lane) === i);
      const pick = heads[Math.floor(this.next() * heads.length)];
      due.splice(due.indexOf(pick), 1);
      this.queue.splice(this.queue.indexOf(pick), 1);
      pick.deliver();
    }
    if (this.queue.length) setImmediate(() => this.pump());
    else this.pumping = false;
  }
}
