// Applying a committed journal entry on one node: copy each journalled piece
// from the journal payload to its home sector with the node's COPY command
// (payloads cross the network once), trim the homes of its all-zero pieces
// (which were never sent), then erase the header, and in key-erasure mode the
// payloads too, all in one batch, which a node runs whole or not at all. Erasing the header is what makes a retry safe: if the
// session broke after the node ran the batch, the header is gone and the
// retry is settled without copying (in key-erasure mode a second copy would
// copy zeros home).
import type { ArrayState } from './array-state.ts';
import { journalHeaderSector, journalPayloadStart } from './geometry.ts';
import { Op, type Command } from './node-client/frame-codec.ts';
import { readNodeSectors } from './row-reader.ts';

/** COPY commands for pieces j -> homes[j], merged where both runs are consecutive. */
function copyCommands(homes: number[]): Command[] {
  const commands: Command[] = [];
  homes.forEach((home, j) => {
    const last = commands[commands.length - 1];
    if (last && last.op === Op.copy && last.src + last.count === journalPayloadStart + j && last.dst + last.count === home) {
      last.count++;
    } else {
      commands.push({ op: Op.copy, src: journalPayloadStart + j, dst: home, count: 1 });
    }
  });
  return commands;
}

/** TRIM commands for the homes of all-zero pieces, merged where consecutive. */
function trimCommands(homes: number[]): Command[] {
  const commands: Command[] = [];
  for (const home of [...homes].sort((a, b) => a - b)) {
    const last = commands[commands.length - 1];
    if (last && last.op === Op.trim && last.sector + last.count === home) last.count++;
    else commands.push({ op: Op.trim, sector: home, count: 1 });
  }
  return commands;
}

export interface SlotApply {
  /** The header as written for this entry: a retry resends only while the node still holds it. */
  header: Buffer;
  /** Homes of the pieces in the journal payload, in payload order. */
  homes: number[];
  /** Homes of the all-zero pieces, which have no payload. */
  zeroHomes: number[];
}

/** The batch that applies an entry on one node: copy pieces home, trim zero pieces' homes, erase the header (and payloads in key-erasure mode). */
export function applyCommands(state: ArrayState, apply: SlotApply): Command[] {
  const commands = [...copyCommands(apply.homes), ...trimCommands(apply.zeroHomes)];
  commands.push({ op: Op.trim, sector: journalHeaderSector, count: 1 });
  if (state.membership.keyErasure && apply.homes.length) commands.push({ op: Op.trim, sector: journalPayloadStart, count: apply.homes.length });
  return commands;
}

/**
 * Applies an entry on every listed live slot; nodes that fail are marked
 * dead. A slot leaves `participants` as soon as its apply ran, so if the call
 * fails part way, whatever retries it later sends the apply only to the
 * slots still waiting: a second COPY on a slot that already ran it would copy
 * whatever its journal payload holds by then (zeros in key-erasure mode, or a
 * later entry's pieces) over the homes.
 */
export async function applyEntry(state: ArrayState, participants: Map<number, SlotApply>): Promise<void> {
  const live = [...participants.keys()].filter((s) => state.isMember(s));
  await state.eachSlot(live, async (slot) => {
    const apply = participants.get(slot)!;
    await state.handles[slot].batch(applyCommands(state, apply), async () => {
      const [current] = await readNodeSectors(state, slot, [journalHeaderSector]);
      return current.equals(apply.header) ? undefined : [];
    });
    participants.delete(slot);
  });
}
