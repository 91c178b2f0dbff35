// A readers-writer lock for the array's I/O: reads share it; applying a
// journal entry to home sectors takes it alone, so no read ever sees a row
// half-applied (new data beside an old table entry). Writers are preferred:
// once one waits, new readers queue behind it, so applies are not starved.

export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly waitingWriters: (() => void)[] = [];
  private readonly waitingReaders: (() => void)[] = [];

  async read<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writer || this.waitingWriters.length > 0) await new Promise<void>((r) => this.waitingReaders.push(r));
    else this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      this.next();
    }
  }

  async write<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writer || this.readers > 0) await new Promise<void>((r) => this.waitingWriters.push(r));
    else this.writer = true;
    try {
      return await fn();
    } finally {
      this.writer = false;
      this.next();
    }
  }

  private next(): void {
    if (this.writer || this.readers > 0) return;
    const writer = this.waitingWriters.shift();
    if (writer) {
      this.writer = true;
      return writer();
    }
    for (const reader of this.waitingReaders.splice(0)) {
      this.readers++;
      reader();
    }
  }
}
