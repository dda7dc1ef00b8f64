/**
 * Structured logging: one JSON object per line, UTC timestamps, values that look like credentials
 * redacted by key name, strings escaped by JSON (a username with "\n" stays one record).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogRecord {
  time: string;
  level: LogLevel;
  event: string;
  [key: string]: unknown;
}

export type LogSink = (line: string, record: LogRecord) => void;

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const SECRET_KEY =
  /(secret|password|passwd|token|authorization|cookie|code$|^code|verifier|assertion|credential|apikey|api_key|privatekey|private_key|state$|nonce)/i;
const SAFE_KEYS = new Set(['errorCode', 'statusCode', 'aadsts', 'reasonCode', 'problemCode']);
const MAX_STRING = 2000;

function sanitize(value: unknown, key: string | undefined, depth: number): unknown {
  if (key !== undefined && !SAFE_KEYS.has(key) && SECRET_KEY.test(key)) {
    return value === undefined || value === null ? value : '[redacted]';
  }
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (value instanceof Error) {
    // Never the message of an SDK error: it can echo request data. Name and status only.
    const status = (value as { statusCode?: unknown }).statusCode;
    return { name: value.name, ...(typeof status === 'number' ? { statusCode: status } : {}) };
  }
  if (Array.isArray(value)) {
    return depth > 4 ? '[…]' : value.slice(0, 50).map((v) => sanitize(v, undefined, depth + 1));
  }
  if (value && typeof value === 'object') {
    if (depth > 4) return '[…]';
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = sanitize(v, k, depth + 1);
    return out;
  }
  return value;
}

const defaultSink: LogSink = (line, record) => {
  if (record.level === 'error') console.error(line);
  else if (record.level === 'warn') console.warn(line);
  else console.log(line);
};

let globalSink: LogSink = defaultSink;
let minLevel: LogLevel = 'info';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Replaces where log lines go (tests capture them here). Returns a function that restores the previous sink. */
export function setLogSink(sink: LogSink): () => void {
  const previous = globalSink;
  globalSink = sink;
  return () => {
    globalSink = previous;
  };
}

export function setLogLevel(level: LogLevel): void {
  minLevel = level;
}

const scopedFields = new AsyncLocalStorage<Record<string, unknown>>();

/**
 * Runs `fn` with `fields` on every line any logger writes inside it (its awaits included): the
 * request's operation id reaches the lines of services that log with their own logger.
 */
export function withLogFields<T>(fields: Record<string, unknown>, fn: () => T): T {
  return scopedFields.run({ ...scopedFields.getStore(), ...fields }, fn);
}

export function createLogger(base: Record<string, unknown> = {}): Logger {
  const write = (level: LogLevel, event: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    const record = sanitize({ ...scopedFields.getStore(), ...base, ...fields }, undefined, 0) as Record<
      string,
      unknown
    >;
    const full: LogRecord = { time: new Date().toISOString(), level, event, ...record };
    globalSink(JSON.stringify(full), full);
  };
  return {
    debug: (e, f) => write('debug', e, f),
    info: (e, f) => write('info', e, f),
    warn: (e, f) => write('warn', e, f),
    error: (e, f) => write('error', e, f),
    child: (fields) => createLogger({ ...base, ...fields }),
  };
}

export const rootLogger = createLogger();
