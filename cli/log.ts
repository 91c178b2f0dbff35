// Structured logs: one event per line on stderr, with fields. On a terminal a
// short human line; otherwise (or with --log-json) one JSON object per line,
// for journald, Docker or a log shipper.

export type Fields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  info(event: string, fields?: Fields): void;
  warn(event: string, fields?: Fields): void;
  error(event: string, fields?: Fields): void;
}

export function createLogger(json = !process.stderr.isTTY): Logger {
  const emit = (level: string, event: string, fields: Fields = {}) => {
    if (json) {
      process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }) + '\n');
      return;
    }
    const kv = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const time = new Date().toISOString().slice(11, 19);
    process.stderr.write(`${time} ${level === 'info' ? '' : level.toUpperCase() + ' '}${event}${kv ? ' ' + kv : ''}\n`);
  };
  return {
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
  };
}
