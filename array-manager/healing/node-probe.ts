// Notices a lost node on an idle array (the healer runs it). The manager learns of a dead node
// only when it next talks to it (docs/ADMIN.md, "Health"); the serving
// manager therefore asks every member node for its STATUS every probe
// interval, one attempt each (no waiting out the death window in the
// probe: the node's outage clock runs across probes, node-handle.ts). A node
// unreachable for its whole death window, or answering as another instance,
// fails its probe with a NodeFailure, and the array marks its slot dead under
// its usual rule (never more than m for what it cannot reach); a hot spare
// can then take the slot. Other probe failures are left to the next probe.
import type { ArrayState } from '../array-state.ts';
import { Op } from '../node-client/frame-codec.ts';

export class NodeProbe {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = true;

  constructor(
    private readonly state: ArrayState,
    readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || !this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops probing; resolves once a probe in flight has settled (one connect attempt at most). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Probes every member node once; resolves when each answered, failed once, or its slot was marked dead. */
  async probe(): Promise<void> {
    const state = this.state;
    await state
      .eachSlot(state.memberSlots(), (slot) => state.handles[slot].batch([{ op: Op.status }], undefined, false))
      .catch(() => {
        // Unreachable for now (the handle's outage clock runs on), or more than m unreachable (the array logged it).
      });
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.probe().finally(() => {
        if (!this.stopped) this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }
}
