// Progress for long operations: a redrawn bar on a terminal, a plain line at
// each tenth otherwise, so logs stay readable when output is not a TTY.

export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr): (done: number, total: number) => void {
  let lastTenth = -1;
  return (done, total) => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round(fraction * width);
      stream.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`);
      if (done >= total) stream.write('\n');
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      stream.write(`${label}: ${(fraction * 100).toFixed(0)}% (${done}/${total})\n`);
    }
  };
}
