// Progress for long operations: a redrawn bar on a terminal, a plain line at
// each tenth otherwise, so logs stay readable when output is not a TTY. An
// optional detail (a rate, the time left) follows the bar or the line.

export type ProgressReporter = (done: number, total: number, detail?: string) => void;

export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  let lastTenth = -1;
  return (done, total, detail) => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const extra = detail ? `  ${detail}` : '';
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round(fraction * width);
      // \x1b[K clears what a longer previous line left behind.
      stream.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%${extra}\x1b[K`);
      if (done >= total) stream.write('\n');
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      stream.write(`${label}: ${(fraction * 100).toFixed(0)}% (${done}/${total})${extra}\n`);
    }
  };
}
