// A byte budget shared by every connection of a server: requests reserve
// their payload size before any of it is read and release it when done, so
// the payload bytes the server holds stay under one bound whatever the
// clients do (32 connections each announcing a 32 MiB write and sending half
// of it hold at most the budget, not a gigabyte).
//
// Reservations are all-or-nothing and served first come, first served: a
// connection never holds part of what it needs while waiting for the rest,
// so waiting connections cannot deadlock each other, and a large request is
// not starved by a stream of small ones.

import assert from 'node:assert/strict';

interface Waiter {
  bytes: number;
  grant: () => void;
}

export class ByteBudget {
  private held = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly bytesMax: number) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax > 0, 'budget must be a positive integer');
  }

  get bytesHeld(): number {
    return this.held;
  }

  /** Reserves `bytes` now if they fit and nobody waits before us; false otherwise (reserve nothing). */
  tryReserve(bytes: number): boolean {
    assert(bytes >= 0 && bytes <= this.bytesMax, `reservation of ${bytes} exceeds the budget of ${this.bytesMax}`);
    if (this.waiters.length > 0 || this.held + bytes > this.bytesMax) return false;
    this.held += bytes;
    return true;
  }

  /**
   * Queues a reservation; `grant` is called (from release(), never
   * synchronously) once the bytes are reserved for the caller. Returns a
   * cancel function: cancelling a granted reservation does nothing, the
   * caller then owns the bytes and must release them.
   */
  wait(bytes: number, grant: () => void): () => void {
    assert(bytes >= 0 && bytes <= this.bytesMax, `reservation of ${bytes} exceeds the budget of ${this.bytesMax}`);
    const waiter: Waiter = { bytes, grant };
    this.waiters.push(waiter);
    return () => {
      const i = this.waiters.indexOf(waiter);
      if (i < 0) return;
      this.waiters.splice(i, 1);
      this.grantWaiting(); // the next one may fit now that this one left the head
    };
  }

  release(bytes: number): void {
    assert(bytes >= 0 && bytes <= this.held, `releasing ${bytes} of ${this.held} held bytes`);
    this.held -= bytes;
    this.grantWaiting();
  }

  private grantWaiting(): void {
    while (this.waiters.length > 0 && this.held + this.waiters[0]!.bytes <= this.bytesMax) {
      const waiter = this.waiters.shift()!;
      this.held += waiter.bytes;
      waiter.grant();
    }
  }
}
