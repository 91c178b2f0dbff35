// One slot's disk node as the array sees it: a session that is re-opened when
// the channel fails, and the rule that decides when a node is lost.
//
// Faults of the transport are not faults of the node: a corrupt, duplicated,
// reordered or unanswered frame, a reset connection or a refused handshake
// end that session, and the handle reconnects (fresh challenge, full
// attestation) with bounded, growing backoff and resends, for as long as the
// node has been unreachable less than the death window. Only then, or when a
// node answers as another instance (it restarted and lost its memory), does
// the slot's failure surface as a NodeFailure, which the array may turn into
// a death record. Refusals the node signs (E_RANGE, E_DEATH_VERSION, ...) are
// answers, not failures, and pass through.
import { ClosedAfterHello, NodeError, type CommandResult, type OutgoingCommand } from './node-client/frame-codec.ts';
import type { NodeClient } from './node-client/node-client.ts';

export interface NodeConnector {
  /** Number of configured slots. */
  readonly slots: number;
  /** Opens a fresh, attestation-verified session to the node configured for `slot`. */
  connect(slot: number): Promise<NodeClient>;
  /**
   * Opens an attestation-verified session to a node in no slot yet (a
   * replacement or a spare), by its endpoint; its open frame is an
   * observer's (NodeClientOptions.observeOpen), so checking a node fences
   * nothing until the caller changes the node.
   */
  connectEndpoint?(endpoint: string): Promise<NodeClient>;
  /** From now on the node at `endpoint` serves `slot` (a replacement); later connects to `slot` go there. */
  assign?(slot: number, endpoint: string): void;
  /** The endpoint configured for `slot`, for status. */
  endpointOf?(slot: number): string;
  /** The environment's defaults for the health policy (the simulator's virtual clock); options override them. */
  readonly health?: Partial<HealthPolicy>;
}

/** Time as the handle sees it: real by default, virtual in the simulator. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  // Not unref'd: a request waiting out a backoff must keep the process alive.
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** When a node that does not answer is declared lost (docs/ADMIN.md, "Health"). */
export interface HealthPolicy {
  /** How long a node may stay unreachable before its slot may be marked dead. */
  deathWindowMs: number;
  /** First wait before reconnecting; it doubles per failed attempt up to `backoffMaxMs`. */
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Shards of one node failing their MAC this many times prove the node wrong: its slot is marked dead. */
  macFailuresMax: number;
  clock: Clock;
}

export const healthDefaults: HealthPolicy = { deathWindowMs: 30_000, backoffMinMs: 50, backoffMaxMs: 2_000, macFailuresMax: 64, clock: realClock };

/** Codes that say the session or channel broke, not that the node refused the batch. */
const sessionFailures = new Set(['E_CLOSED', 'E_TIMEOUT', 'E_NONCE', 'E_FRAME', 'E_ATTESTATION', 'E_CONNECT', 'E_VERSION', 'E_REPLAY', 'E_SESSION']);

/** Why a slot failed: its node stayed unreachable for the death window, or answered as another instance. */
export type FailureReason = 'unreachable' | 'restarted';

export class NodeFailure extends Error {
  readonly code = 'E_NODE_FAILED';
  constructor(
    readonly slot: number,
    readonly reason: FailureReason,
    override readonly cause: Error,
    /** The instance the slot was pinned to when it failed: a replacement since then makes the failure stale. */
    readonly instanceId: Buffer | undefined,
  ) {
    super(`E_NODE_FAILED: slot ${slot} ${reason}: ${cause.message}`);
  }
}

/** A session failure, or an attestation failure that a corrupted frame can cause as well as a wrong node. */
export function transportFault(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return sessionFailures.has(code) || code.startsWith('E_ATT_');
}

export class NodeHandle {
  private client: NodeClient | undefined;
  private opening: Promise<NodeClient> | undefined;
  /** Counts repins (replacements): a session opened before the last one is for the slot's old node. */
  private pins = 0;
  /** Clock time of the first failure of the current run of failures; unset while the node answers. */
  private failingSince: number | undefined;
  /** Session failures seen, for status and metrics. */
  sessionFailures = 0;
  lastFailure: string | undefined;
  /** Told when the node falls in doubt (first failure of a run) and when it answers again. */
  onHealth: (inDoubt: boolean, reason: string) => void = () => {};

  constructor(
    readonly slot: number,
    readonly connector: NodeConnector,
    /** The instance id the membership pins to this slot; unset until the array knows it. */
    public pinned: Buffer | undefined,
    readonly health: HealthPolicy = healthDefaults,
  ) {}

  get instanceId(): Buffer | undefined {
    return this.client ? Buffer.from(this.client.peer.instanceId) : undefined;
  }

  get sectorCount(): number | undefined {
    return this.client?.hello.sectorCount;
  }

  /** True while the node's last attempts failed: the slot is in doubt, not (yet) dead. */
  get inDoubt(): boolean {
    return this.failingSince !== undefined;
  }

  /** True once the node has been unreachable for the whole death window. */
  get unreachable(): boolean {
    return this.failingSince !== undefined && this.health.clock.now() - this.failingSince >= this.health.deathWindowMs;
  }

  async session(): Promise<NodeClient> {
    if (this.client && !this.client.closed) return this.client;
    const pins = this.pins;
    if (!this.opening) {
      const opening: Promise<NodeClient> = this.connector.connect(this.slot).finally(() => this.opening === opening && (this.opening = undefined));
      this.opening = opening;
    }
    let client: NodeClient;
    try {
      client = await this.opening;
    } catch (err) {
      // Opened for the node the slot held before a replacement: that failure is not the new node's.
      if (pins !== this.pins) return this.session();
      // The pinned node sent its HELLO before the connection was closed: it was reached, so an
      // outage ends here, like after any answer (an unauthenticated HELLO can only delay a death, never cause one).
      if (err instanceof ClosedAfterHello && this.pinned?.equals(err.instanceId)) this.answered([]);
      // The node cannot be reached: its outage starts now (a session that broke is not one).
      else if (transportFault(err) && this.failingSince === undefined) {
        this.failingSince = this.health.clock.now();
        this.onHealth(true, (err as Error).message);
      }
      throw err;
    }
    // A session opened before a replacement repinned the slot may reach the old node: drop it, open one to the new node.
    if (pins !== this.pins) {
      client.close();
      return this.session();
    }
    if (this.pinned && !Buffer.from(client.peer.instanceId).equals(this.pinned)) {
      client.close();
      throw new NodeFailure(this.slot, 'restarted', new NodeError('E_IDENTITY', `slot ${this.slot} answered as another instance: the node restarted`), this.pinned);
    }
    this.client = client;
    // An attested session is an answer: the node is reachable, whatever the batch that follows meets.
    this.answered([]);
    return client;
  }

  /**
   * Runs a batch, reconnecting and resending while the channel fails. The
   * slot fails (NodeFailure) once the node has been unreachable (no session
   * could be opened) for the death window; a node that keeps accepting
   * sessions but breaks them fails the call after the window with the
   * retryable E_UNAVAILABLE instead, and keeps its slot. A node already past
   * the window gets one attempt, so callers learn fast that it is still gone.
   * With `patient` false (reads, which other shards can serve) the first
   * transport fault fails the call at once with the fault itself.
   * `beforeRetry` may inspect the node through the new session and return
   * results to settle the call without resending (for batches that must not
   * run twice).
   */
  async batch(
    commands: OutgoingCommand[],
    beforeRetry?: () => Promise<CommandResult[] | undefined>,
    patient = true,
  ): Promise<CommandResult[]> {
    const { clock, deathWindowMs, backoffMinMs, backoffMaxMs } = this.health;
    let firstFailure: number | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        if (attempt > 0 && beforeRetry) {
          const settled = await beforeRetry();
          if (settled) return this.answered(settled);
        }
        return this.answered(await (await this.session()).batch(commands));
      } catch (err) {
        if (err instanceof NodeFailure || !transportFault(err)) throw err;
        this.sessionFailures++;
        this.lastFailure = (err as Error).message;
        if (this.unreachable) throw new NodeFailure(this.slot, 'unreachable', err as Error, this.pinned);
        if (!patient) throw err;
        firstFailure ??= clock.now();
        // A node that keeps accepting sessions but breaking them keeps its slot; the call gives up, retryably.
        if (clock.now() - firstFailure >= 2 * deathWindowMs) throw new NodeError('E_UNAVAILABLE', `slot ${this.slot}: sessions keep breaking (${this.lastFailure}); retry`);
        const wait = Math.min(backoffMaxMs, backoffMinMs * 2 ** Math.min(attempt, 20));
        const deadline = (this.failingSince ?? clock.now()) + deathWindowMs;
        await clock.sleep(Math.min(wait, Math.max(0, deadline - clock.now())));
      }
    }
  }

  private answered(results: CommandResult[]): CommandResult[] {
    if (this.failingSince !== undefined) this.onHealth(false, 'answers again');
    this.failingSince = undefined;
    return results;
  }

  /** The slot now holds another node (a replacement): forget the old one's session and health. */
  repin(instanceId: Buffer): void {
    this.close();
    this.pins++;
    this.opening = undefined;
    this.pinned = instanceId;
    this.failingSince = undefined;
    this.sessionFailures = 0;
    this.lastFailure = undefined;
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}
