// A small leveled logger writing one line per event to stderr. Callers pass short pins, never keys.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** A Logger whose level a reload may change. */
export interface LevelLogger extends Logger {
  setLevel(level: LogLevel): void;
}

export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = defaultWrite,
): LevelLogger {
  let at = ORDER[level];
  const emit = (l: LogLevel, msg: string): void => {
    if (ORDER[l] >= at) write(`${new Date().toISOString()} ${l} ${msg}`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    setLevel: (l) => {
      at = ORDER[l];
    },
  };
}

function defaultWrite(line: string): void {
  process.stderr.write(line + '\n');
}

export const silentLogger: Logger = createLogger('silent');

/**
 * Reports a repeating event at most about once a second: the first at once, then how many more came
 * within the second after it. For floods (connections dropped at a limit, accepts failing for want of
 * file descriptors) where a line each would bury the log. `say` gets the count and the latest detail.
 */
export class PerSecond {
  private count = 0;
  private detail = '';
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly say: (count: number, detail: string) => void) {}

  add(detail: string): void {
    this.count++;
    this.detail = detail;
    if (this.timer !== null) return;
    this.flush();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.count > 0) this.flush();
    }, 1000);
    this.timer.unref();
  }

  private flush(): void {
    this.say(this.count, this.detail);
    this.count = 0;
  }
}

/**
 * The once-a-second warning for a process out of file descriptors: `who` is the listener or the
 * relay, the detail what failed (`EMFILE on accept`). Only a higher open-files limit cures it.
 */
export function descriptorShortage(log: Logger, who: string): PerSecond {
  return new PerSecond((n, what) =>
    log.warn(
      `${who}: out of file descriptors (${what}): ${n} connection(s) refused; raise the open-files limit (ulimit -n)`,
    ),
  );
}

/** 'text': `TIME LEVEL MSG`; 'json': one object per line, {"time","level","msg"} (`--log-format json`). */
export type LogFormat = 'text' | 'json';

/**
 * The `write` for createLogger in a given format: for 'json', each `TIME LEVEL MSG` line becomes
 * {"time":TIME,"level":LEVEL,"msg":MSG} (the message's words unchanged). Never throws.
 */
export function logWriter(
  format: LogFormat,
  write: (line: string) => void = defaultWrite,
): (line: string) => void {
  if (format === 'text') return write;
  return (line) => {
    const a = line.indexOf(' ');
    const b = line.indexOf(' ', a + 1);
    write(JSON.stringify({ time: line.slice(0, a), level: line.slice(a + 1, b), msg: line.slice(b + 1) }));
  };
}
