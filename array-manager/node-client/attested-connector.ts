// The production connector: WebSocket sessions to disk nodes whose HELLO
// evidence must verify against the reference-values manifest, for this
// manager's key, and describe the same geometry the HELLO announces. The
// node's per-reply signatures are then checked with the attestation key the
// evidence certified.
import type { KeyObject } from 'node:crypto';
import { sign } from 'node:crypto';
import type { ReferenceManifest } from '../../attestation/manifest.ts';
import { reportSignatureValid, verifyEvidence } from '../../attestation/verifier.ts';
import type { NodeConnector } from '../node-handle.ts';
import { openWebSocketChannel } from './frame-channel.ts';
import { NodeError, type Hello } from './frame-codec.ts';
import { NodeClient, type VerifiedPeer } from './node-client.ts';

export interface AttestedConnectorOptions {
  /** ws://host:port of each slot's node, in slot order. */
  endpoints: string[];
  manifest: ReferenceManifest;
  managerPrivateKey: KeyObject;
  managerPublicKey: Uint8Array;
  timeoutMs?: number;
  /** Called with the verified node for each new session (logs, metrics). */
  onVerified?: (slot: number, peer: VerifiedPeer) => void;
}

export function attestedHelloVerifier(manifest: ReferenceManifest, managerPublicKey: Uint8Array): (hello: Hello) => VerifiedPeer {
  return (hello) => {
    const node = verifyEvidence(hello.evidence, manifest, { managerPublicKey, sectorBytes: hello.sectorBytes });
    if (node.config.sectorCount !== hello.sectorCount || node.config.sectorBytes !== hello.sectorBytes) {
      throw new NodeError('E_ATTESTATION', `HELLO geometry ${hello.sectorCount}x${hello.sectorBytes} differs from the attested launch config`);
    }
    return { instanceId: node.instanceId, verifyReport: (data, signature) => reportSignatureValid(node, data, signature) };
  };
}

export function attestedConnector(opts: AttestedConnectorOptions): NodeConnector {
  const verifyHello = attestedHelloVerifier(opts.manifest, opts.managerPublicKey);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const signBatch = (message: Buffer) => sign(null, message, opts.managerPrivateKey);
  return {
    slots: opts.endpoints.length,
    async connect(slot) {
      const channel = await openWebSocketChannel(opts.endpoints[slot], timeoutMs);
      const client = await NodeClient.open(channel, { sign: signBatch, verifyHello, timeoutMs });
      opts.onVerified?.(slot, client.peer);
      return client;
    },
  };
}
