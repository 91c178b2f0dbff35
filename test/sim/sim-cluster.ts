// An in-process cluster of disk nodes for array tests and the simulator: the
// real disk-node core behind channels that deliver frames asynchronously (when
// is up to a DeliveryScheduler) and can be told to fail. Nodes can be killed
// (connections refused from then on), restarted (a new, empty instance at the
// same slot), partitioned (unreachable for a while, memory kept, then back as
// the same instance, e.g. after a while of virtual time) and frozen (frames
// neither delivered nor answered, as when the manager process dies). A frame can be withheld: the manager's
// channel is reset at once, but the node still receives the frame later, on
// its old session, as a proxy that held it back would deliver it.
import { randomBytes } from 'node:crypto';
import { DiskNodeCore } from '../../disk-node/node-core.ts';
import type { FrameChannel } from '../../array-manager/node-client/frame-channel.ts';
import { NodeError } from '../../array-manager/node-client/frame-codec.ts';
import { NodeClient } from '../../array-manager/node-client/node-client.ts';
import type { Clock, NodeConnector } from '../../array-manager/node-handle.ts';
import { fakeProvider, managerKeys, testClientOptions, type ManagerKeys } from '../disk-node/fixtures.ts';
import { nextTurnDelivery, type DeliveryScheduler } from './delivery-scheduler.ts';

/** Withhold the frame, reset the manager's channel, and hand the frame to the node once this many more frames were delivered. */
export interface Withhold {
  releaseAfterFrames: number;
}

/** Decides the fate of one frame; the default delivers everything. */
export interface FaultPolicy {
  /** Called for each frame the manager sends. */
  onSend?(slot: number, frame: Buffer): 'deliver' | 'reset' | 'corrupt' | 'duplicate' | Withhold;
}

type Session = ReturnType<DiskNodeCore['openSession']>['session'];
/** What a node core answers to a frame: a reply, or a reason to close the connection without one. */
type NodeAnswer = Buffer | { close: string };

export class SimCluster {
  readonly manager: ManagerKeys;
  readonly nodes: DiskNodeCore[];
  private readonly dead = new Set<number>();
  private readonly partitioned = new Set<number>();
  /** When frames reach the other end; the simulator installs a seeded one per scenario. */
  scheduler: DeliveryScheduler = nextTurnDelivery;
  /** Withheld frames handed to their node late (they are not counted in `delivered`). */
  lateDeliveries = 0;
  private readonly channels = new Set<{ frozen: boolean; close(): void }>();
  faults: FaultPolicy = {};
  /** Incremented at each crash: connectors of an earlier manager stop working. */
  private epoch = 0;
  /** Frames delivered to nodes so far (a step counter for crash points). */
  delivered = 0;
  /** Sessions nodes opened (HELLOs sent): each costs the open frame's signature and the session's key agreement. */
  sessionsOpened = 0;
  /** When set, the cluster freezes every channel once `delivered` reaches it. */
  crashAt: number | undefined;
  /** Actions to run when `delivered` reaches a count (node losses mid-operation). */
  private readonly triggers: { at: number; run: () => void }[] = [];
  private frozenListeners: (() => void)[] = [];

  constructor(
    readonly n: number,
    readonly sectorCount: number,
  ) {
    this.manager = managerKeys();
    this.nodes = Array.from({ length: n }, () => this.newNode());
  }

  private newNode(sectorCount = this.sectorCount): DiskNodeCore {
    return new DiskNodeCore({ managerPublicKey: this.manager.publicRaw, sectorBytes: 4096, sectorCount }, fakeProvider());
  }

  /** Spare nodes by endpoint: running, in no slot until a replacement assigns one. */
  readonly spares = new Map<string, DiskNodeCore>();
  private sparesMade = 0;

  /** Starts a spare node and returns its endpoint. */
  addSpare(sectorCount = this.sectorCount): string {
    const endpoint = `sim:spare:${this.sparesMade++}`;
    this.spares.set(endpoint, this.newNode(sectorCount));
    return endpoint;
  }

  /** A slot's own endpoint: whatever node answers at that slot now (a restarted one is new and empty). */
  endpointOf(slot: number): string {
    return `sim:slot:${slot}`;
  }

  /**
   * The spare at `endpoint` now serves `slot` (the configuration a
   * replacement persists); the slot's old node is gone. The slot's own
   * endpoint leaves its node in place: a new incarnation of the slot.
   */
  assign(slot: number, endpoint: string): void {
    if (endpoint === this.endpointOf(slot)) return this.onAssigned(slot, this.nodes[slot]);
    const core = this.spares.get(endpoint);
    if (!core) throw new NodeError('E_CONNECT', `no spare at ${endpoint}`);
    this.spares.delete(endpoint);
    this.nodes[slot] = core;
    this.dead.delete(slot);
    this.partitioned.delete(slot);
    this.onAssigned(slot, core);
  }

  /** Told when a replacement made a spare a slot's node (the simulator starts the slot's next incarnation). */
  onAssigned: (slot: number, core: DiskNodeCore) => void = () => {};

  /** The node dies: its memory is gone and connections to it fail. */
  kill(slot: number): void {
    this.dead.add(slot);
  }

  /** The node restarts: a new empty instance answers at the same slot. */
  restart(slot: number): void {
    this.nodes[slot] = this.newNode();
    this.dead.delete(slot);
  }

  isDead(slot: number): boolean {
    return this.dead.has(slot);
  }

  /** The node becomes unreachable (connections fail, open ones break) but keeps running with its memory. */
  partition(slot: number): void {
    this.partitioned.add(slot);
  }

  /** The partitioned node answers again, as the same instance. */
  heal(slot: number): void {
    this.partitioned.delete(slot);
  }

  isPartitioned(slot: number): boolean {
    return this.partitioned.has(slot);
  }

  /** True while frames sent on a channel opened to `core` can reach it (slot -1: a spare, reached by endpoint). */
  private reaches(slot: number, core: DiskNodeCore): boolean {
    if (slot < 0) return [...this.spares.values()].includes(core) || this.nodes.includes(core);
    return !this.dead.has(slot) && !this.partitioned.has(slot) && this.nodes[slot] === core;
  }

  /** Told after a node core handled a frame (the simulator watches the death records the nodes hold). */
  onAnswered: (slot: number) => void = () => {};
  /** Told of each request frame delivered to a node (counted in `delivered`). */
  onDelivered: (frame: Buffer) => void = () => {};
  /** Told when a node's reply to a batch reaches the manager (the manager heard from the node). */
  onHeard: (slot: number) => void = () => {};

  /** The one place a node core handles a frame. */
  private answer(slot: number, core: DiskNodeCore, session: Session, frame: Buffer): NodeAnswer {
    const answer = core.handle(session, frame) as NodeAnswer;
    if (slot >= 0) this.onAnswered(slot);
    return answer;
  }

  /** Hands a withheld frame to the node on the session it was sent on, if the node is still there; the reply has no one to go to. */
  private withhold(slot: number, core: DiskNodeCore, session: Session, frame: Buffer, w: Withhold): void {
    this.after(w.releaseAfterFrames, () => {
      if (!this.reaches(slot, core)) return;
      this.lateDeliveries++;
      this.answer(slot, core, session, frame);
    });
  }

  /**
   * Stops all traffic of the current manager: its frames go nowhere from now
   * on, and it can open no new session (a crashed process does nothing; its
   * leftover timers must not act as a zombie manager). Its sessions close, as
   * a dead process's sockets do: what it still waited for fails at once, and
   * whatever it tries next waits forever on a dead clock or connector, so
   * nothing of it is left to keep in memory (pending requests held until
   * their timeout kept every crashed manager, its caches and frame buffers,
   * alive for the connector's hour).
   */
  freezeAll(): void {
    this.epoch++;
    for (const c of this.channels) {
      c.frozen = true;
      c.close();
    }
    this.channels.clear();
    this.crashAt = undefined;
    for (const l of this.frozenListeners.splice(0)) l();
  }

  /** Resolves when the cluster next freezes (the manager "crashed"). */
  whenFrozen(): Promise<'frozen'> {
    return new Promise((resolve) => this.frozenListeners.push(() => resolve('frozen')));
  }

  /** Runs `run` once `frames` more frames have been delivered. */
  after(frames: number, run: () => void): void {
    this.triggers.push({ at: this.delivered + frames, run });
  }

  private fireTriggers(): void {
    runDue(this.triggers, this.delivered);
  }

  /**
   * Virtual time for the managers' health policy: a sleep returns on the
   * next turn and moves the clock on by what it slept, so a node's death
   * window passes after as many reconnect attempts as in real time, without
   * the wait, and runs stay deterministic.
   */
  private virtualMs = 0;
  /** Actions due at a virtual time (partitions that heal after a while). */
  private readonly timers: { at: number; run: () => void }[] = [];
  readonly clock: Clock = this.clockOf(undefined);

  /**
   * The clock a manager of `epoch` sees: once that manager has crashed, its
   * sleeps never end (a crashed process does nothing), so its leftover
   * reconnect loops, woken by a request timeout in real time, cannot move
   * the live manager's virtual time.
   */
  private clockOf(epoch: number | undefined): Clock {
    const live = () => epoch === undefined || epoch === this.epoch;
    return {
      now: () => this.virtualMs,
      sleep: (ms) =>
        new Promise((resolve) =>
          setImmediate(() => {
            if (!live()) return;
            this.virtualMs += ms;
            this.fireTimers();
            resolve();
          }),
        ),
    };
  }

  /** Runs `run` once the virtual clock has moved on by `ms` (time moves only while a manager sleeps). */
  afterMs(ms: number, run: () => void): void {
    this.timers.push({ at: this.virtualMs + ms, run });
  }

  private fireTimers(): void {
    runDue(this.timers, this.virtualMs);
  }

  /**
   * `timeoutMs` is real time, so by default it is far beyond any run: every
   * frame a live manager sends here is answered, or its channel closes at
   * once (a node down, a reset, a withheld frame), so the timeout has nothing
   * to catch, and a run starved of CPU (a loaded machine) must not see
   * timeouts a run on an idle one does not: a seed replays alike anywhere.
   */
  connector(timeoutMs = 3_600_000): NodeConnector {
    const epoch = this.epoch;
    return {
      slots: this.n,
      health: { clock: this.clockOf(epoch) },
      connect: async (slot) => {
        if (epoch !== this.epoch) return new Promise<never>(() => {});
        if (this.dead.has(slot) || this.partitioned.has(slot)) throw new NodeError('E_CONNECT', `slot ${slot} is down`);
        return NodeClient.open(this.channel(slot, this.nodes[slot]), testClientOptions(this.manager, timeoutMs));
      },
      connectEndpoint: async (endpoint) => {
        if (epoch !== this.epoch) return new Promise<never>(() => {});
        const own = this.nodes.findIndex((_, slot) => endpoint === this.endpointOf(slot) && !this.dead.has(slot) && !this.partitioned.has(slot));
        const core = own >= 0 ? this.nodes[own] : this.spares.get(endpoint);
        if (!core) throw new NodeError('E_CONNECT', `nothing answers at ${endpoint}`);
        return NodeClient.open(this.channel(-1, core), { ...testClientOptions(this.manager, timeoutMs), observeOpen: true });
      },
      assign: (slot, endpoint) => {
        if (epoch === this.epoch) this.assign(slot, endpoint);
      },
    };
  }

  private channel(slot: number, core: DiskNodeCore): FrameChannel {
    const { session, hello } = core.openSession();
    this.sessionsOpened++;
    // One lane per direction: the scheduler keeps each lane's frames in order.
    const toNode = {};
    const toManager = {};
    let onFrame: ((f: Buffer) => void) | undefined;
    let onClose: ((reason: string) => void) | undefined;
    const state = { frozen: false, closed: false, close: () => {} };
    const close = (reason: string) => {
      if (state.closed) return;
      state.closed = true;
      setImmediate(() => onClose?.(reason));
    };
    state.close = () => close('closed');
    this.channels.add(state);
    // A frame the node already sent is on the wire: its death or partition afterwards does not recall it.
    const toManagerLater = (frame: Buffer, reply: boolean) =>
      this.scheduler.submit(toManager, slot, () => {
        if (state.frozen || state.closed || !onFrame) return;
        onFrame(frame);
        if (reply && slot >= 0) this.onHeard(slot);
      });
    const deliver = (frame: Buffer) => {
      this.scheduler.submit(toNode, slot, () => {
        if (state.frozen || state.closed) return;
        if (!this.reaches(slot, core)) return close('node down');
        if (this.crashAt !== undefined && this.delivered >= this.crashAt) {
          this.freezeAll();
          return;
        }
        this.delivered++;
        this.onDelivered(frame);
        this.fireTriggers();
        if (!this.reaches(slot, core)) return close('node down');
        const answer = this.answer(slot, core, session, frame);
        if (Buffer.isBuffer(answer)) toManagerLater(answer, true);
        else close(answer.close);
      });
    };
    return {
      send: (frame) => {
        // A crashed manager's frames go nowhere and draw no fault: the live manager's draws stay its own.
        if (state.frozen) return;
        const fate = this.faults.onSend?.(slot, frame) ?? 'deliver';
        // A frame the network keeps beyond this send (withheld, duplicated) is its own copy, as on a real
        // network: the manager reuses a frame's buffer once the node has answered it (frame-pool.ts).
        if (typeof fate === 'object') {
          this.withhold(slot, core, session, Buffer.from(frame), fate);
          return close('reset by fault');
        }
        if (fate === 'reset') return close('reset by fault');
        if (fate === 'corrupt') {
          const bad = Buffer.from(frame);
          bad[Math.floor(bad.length / 2)] ^= 0x40;
          return deliver(bad);
        }
        deliver(frame);
        if (fate === 'duplicate') deliver(Buffer.from(frame));
      },
      close: () => close('closed by manager'),
      listen(f, c) {
        onFrame = f;
        onClose = c;
        toManagerLater(hello, false);
      },
    };
  }
}

/** Runs and removes the actions due by `now` (a frame count or a virtual time). */
function runDue(actions: { at: number; run: () => void }[], now: number): void {
  for (let i = actions.length - 1; i >= 0; i--) if (actions[i].at <= now) actions.splice(i, 1)[0].run();
}

export function dataKey(): Buffer {
  return randomBytes(32);
}
