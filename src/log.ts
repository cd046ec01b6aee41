// A small leveled logger writing one line per event to stderr. Callers pass short pins, never keys.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function createLogger(level: LogLevel = 'info', write: (line: string) => void = defaultWrite): Logger {
  const at = ORDER[level];
  const emit = (l: LogLevel, msg: string): void => {
    if (ORDER[l] >= at) write(`${new Date().toISOString()} ${l} ${msg}`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  };
}

function defaultWrite(line: string): void {
  process.stderr.write(line + '\n');
}

export const silentLogger: Logger = createLogger('silent');
