// The production connector: WebSocket sessions to disk nodes whose session
// evidence must verify against the reference-values manifest, for this
// manager's key, report exactly this session (challenge, the manager's nonce,
// the instance key and launch config), and describe the same geometry the
// HELLO announces. Replies are then checked with the instance key.
import type { KeyObject } from 'node:crypto';
import { sign } from 'node:crypto';
import type { ReferenceManifest } from '../../attestation/manifest.ts';
import { verifyEvidence } from '../../attestation/verifier.ts';
import type { NodeConnector } from '../node-handle.ts';
import { openWebSocketChannel } from './frame-channel.ts';
import { NodeError } from './frame-codec.ts';
import { NodeClient, type EvidenceExpectation, type VerifiedPeer } from './node-client.ts';

export interface AttestedConnectorOptions {
  /** ws://host:port of each slot's node, in slot order. */
  endpoints: string[];
  manifest: ReferenceManifest;
  managerPrivateKey: KeyObject;
  managerPublicKey: Uint8Array;
  timeoutMs?: number;
  /** Sessions send only read-only batches and never fence a serving manager (status tools). */
  observe?: boolean;
  /** Called with the verified node for each new session (logs, metrics). */
  onVerified?: (slot: number, peer: VerifiedPeer) => void;
  /** Operator-supplied certificates for nodes whose evidence comes without them (SEV-SNP VCEKs). */
  certificates?: Uint8Array[];
}

export function attestedEvidenceVerifier(
  manifest: ReferenceManifest,
  certificates?: Uint8Array[],
): (evidence: Buffer, expected: EvidenceExpectation) => { platform: string } {
  return (evidence, { reportData, hello, managerPublicKey }) => {
    const node = verifyEvidence(evidence, manifest, { managerPublicKey, sectorBytes: hello.sectorBytes, reportData, certificates });
    if (node.config.sectorCount !== hello.sectorCount || node.config.sectorBytes !== hello.sectorBytes) {
      throw new NodeError('E_ATTESTATION', `HELLO geometry ${hello.sectorCount}x${hello.sectorBytes} differs from the attested launch config`);
    }
    return { platform: node.platform };
  };
}

export function attestedConnector(opts: AttestedConnectorOptions): NodeConnector {
  const verify = attestedEvidenceVerifier(opts.manifest, opts.certificates);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const signBatch = (message: Buffer) => sign(null, message, opts.managerPrivateKey);
  // A replacement changes a slot's endpoint: the connector keeps its own copy.
  const endpoints = [...opts.endpoints];
  const open = async (endpoint: string, observeOpen = false) =>
    NodeClient.open(await openWebSocketChannel(endpoint, timeoutMs), {
      sign: signBatch,
      managerPublicKey: opts.managerPublicKey,
      verifyEvidence: verify,
      observe: opts.observe,
      observeOpen,
      timeoutMs,
    });
  return {
    slots: endpoints.length,
    async connect(slot) {
      const client = await open(endpoints[slot]);
      opts.onVerified?.(slot, client.peer);
      return client;
    },
    connectEndpoint: (endpoint) => open(endpoint, true),
    assign(slot, endpoint) {
      endpoints[slot] = endpoint;
    },
    endpointOf: (slot) => endpoints[slot],
  };
}
