// One slot's disk node as the array sees it: a session that is re-opened when
// the channel fails (a hostile network can reset, drop, replay or corrupt
// frames, which poisons a session), with a bounded number of retries, and an
// identity check on every new session: a node that comes back under another
// instance id restarted and lost its memory, so it is never trusted as the
// node that held the slot. Failures the retries cannot mend surface as
// E_NODE_FAILED, which the array turns into a death record.
import { NodeError, type CommandResult, type OutgoingCommand } from './node-client/frame-codec.ts';
import type { NodeClient } from './node-client/node-client.ts';

export interface NodeConnector {
  /** Number of configured slots. */
  readonly slots: number;
  /** Opens a fresh, attestation-verified session to the node configured for `slot`. */
  connect(slot: number): Promise<NodeClient>;
}

/** Codes that say the session or channel broke, not that the node refused the batch. */
const sessionFailures = new Set(['E_CLOSED', 'E_TIMEOUT', 'E_NONCE', 'E_FRAME', 'E_ATTESTATION', 'E_CONNECT', 'E_VERSION', 'E_REPLAY', 'E_SESSION']);

export class NodeFailure extends Error {
  readonly code = 'E_NODE_FAILED';
  constructor(
    readonly slot: number,
    override readonly cause: Error,
  ) {
    super(`E_NODE_FAILED: slot ${slot}: ${cause.message}`);
  }
}

export class NodeHandle {
  private client: NodeClient | undefined;
  private opening: Promise<NodeClient> | undefined;

  constructor(
    readonly slot: number,
    private readonly connector: NodeConnector,
    /** The instance id the membership pins to this slot; unset until the array knows it. */
    public pinned: Buffer | undefined,
    private readonly retriesMax = 2,
  ) {}

  get instanceId(): Buffer | undefined {
    return this.client ? Buffer.from(this.client.peer.instanceId) : undefined;
  }

  get sectorCount(): number | undefined {
    return this.client?.hello.sectorCount;
  }

  async session(): Promise<NodeClient> {
    if (this.client && !this.client.closed) return this.client;
    this.opening ??= this.connector.connect(this.slot).finally(() => (this.opening = undefined));
    const client = await this.opening;
    if (this.pinned && !Buffer.from(client.peer.instanceId).equals(this.pinned)) {
      client.close();
      throw new NodeError('E_IDENTITY', `slot ${this.slot} answered as another instance: the node restarted`);
    }
    this.client = client;
    return client;
  }

  /**
   * Runs a batch, re-opening the session and retrying when the channel breaks.
   * `beforeRetry` may inspect the node through the new session and return
   * results to settle the call without resending (for batches that must not
   * run twice).
   */
  async batch(commands: OutgoingCommand[], beforeRetry?: () => Promise<CommandResult[] | undefined>): Promise<CommandResult[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (attempt > 0 && beforeRetry) {
          const settled = await beforeRetry();
          if (settled) return settled;
        }
        return await (await this.session()).batch(commands);
      } catch (err) {
        const code = (err as NodeError).code;
        if (attempt < this.retriesMax && sessionFailures.has(code)) continue;
        throw err instanceof NodeFailure ? err : new NodeFailure(this.slot, err as Error);
      }
    }
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}
