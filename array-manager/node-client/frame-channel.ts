// The one small interface between the manager and a disk node: a channel
// that carries whole binary frames in order. Production uses a WebSocket;
// the simulator supplies an in-process channel with injected faults.
import WebSocket from 'ws';
import { frameBytesMax } from '../../disk-node/limits.ts';
import { NodeError } from './frame-codec.ts';

export interface FrameChannel {
  send(frame: Buffer): void;
  close(): void;
  /** Installs the handlers; frames that arrived earlier are delivered at once, in order. */
  listen(onFrame: (frame: Buffer) => void, onClose: (reason: string) => void): void;
}

/** Opens a WebSocket channel to a disk node at `url` (ws://host:port). */
export function openWebSocketChannel(url: string, timeoutMs: number): Promise<FrameChannel> {
  return new Promise((resolve, reject) => {
    // A zero masking key: RFC 6455 masking shields proxies from browser-crafted
    // bytes, which is no concern between a manager and its nodes, and ws skips
    // the XOR pass over every payload (on both ends) when the key is zero.
    // Integrity comes from the session's MACs, under keys the attested session set up.
    const ws = new WebSocket(url, {
      maxPayload: frameBytesMax,
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      generateMask: (mask) => void mask.fill(0),
    });
    const early: Buffer[] = [];
    let onFrame: ((frame: Buffer) => void) | undefined;
    let onClose: ((reason: string) => void) | undefined;
    let closedReason: string | undefined;
    const finish = (reason: string): void => {
      if (closedReason !== undefined) return;
      closedReason = reason;
      onClose?.(reason);
    };
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) return ws.close(1003, 'binary frames only');
      if (onFrame) onFrame(data);
      else early.push(data);
    });
    ws.on('close', (code, why) => finish(`closed (${code}${why.length ? ` ${why}` : ''})`));
    ws.on('error', (err) => {
      reject(new NodeError('E_CONNECT', `${url}: ${err.message}`));
      finish(err.message);
    });
    ws.on('open', () => {
      (ws as unknown as { _socket?: { setNoDelay(v: boolean): void } })._socket?.setNoDelay(true);
      resolve({
        send: (frame) => ws.send(frame),
        close: () => ws.close(),
        listen(frameHandler, closeHandler) {
          onFrame = frameHandler;
          onClose = closeHandler;
          for (const frame of early.splice(0)) frameHandler(frame);
          if (closedReason !== undefined) closeHandler(closedReason);
        },
      });
    });
  });
}
