// News from the node: the server-sent events of GET /events ("block", "tx"),
// or, when the stream cannot be had (an old node, a full server, a proxy
// that buffers), GET /status every 5 s, which tells of new blocks too.
// Listeners learn only that something happened: each page asks the API
// for what it shows, so a missed or coalesced event loses nothing.
import { api } from './dom.js';

const POLL_MS = 5000;
const listeners = { block: new Set(), tx: new Set(), mode: new Set() };
let mode = 'connecting';
let pollTimer = null;
let last = null; // the /status of the last poll

function emit(type, arg) {
  for (const fn of listeners[type]) fn(arg);
}

function setMode(m) {
  mode = m;
  emit('mode', m);
}

async function poll() {
  try {
    const s = await api('/status');
    if (last && s.tip !== last.tip) emit('block');
    if (last && (s.mempool_size !== last.mempool_size || s.mempool_bytes !== last.mempool_bytes)) {
      emit('tx');
    }
    last = s;
  } catch {
    // the node is away: the next poll tries again
  }
  pollTimer = setTimeout(poll, POLL_MS);
}

function startPolling() {
  if (pollTimer !== null) return;
  setMode('polling');
  poll();
}

export function start() {
  if (typeof EventSource !== 'function') {
    startPolling();
    return;
  }
  const es = new EventSource('/events');
  let opened = false;
  es.addEventListener('open', () => {
    // after a reconnection, blocks may have come meanwhile
    if (opened) emit('block');
    opened = true;
    setMode('live');
  });
  es.addEventListener('block', () => emit('block'));
  es.addEventListener('tx', () => emit('tx'));
  es.addEventListener('error', () => {
    // CLOSED: the browser gave up (not an event stream, 503 when full);
    // CONNECTING: it retries by itself
    if (es.readyState === EventSource.CLOSED) {
      es.close();
      startPolling();
    } else {
      setMode('reconnecting');
    }
  });
}

// Calls fn on each event of the given types, at most once every minMs (a
// burst of transactions costs one refresh); returns the unsubscribe.
export function subscribe(types, fn, minMs = 1000) {
  let lastRun = 0;
  let timer = null;
  const run = () => {
    timer = null;
    lastRun = Date.now();
    fn();
  };
  const handler = () => {
    if (timer !== null) return;
    timer = setTimeout(run, Math.max(0, lastRun + minMs - Date.now()));
  };
  for (const t of types) listeners[t].add(handler);
  return () => {
    for (const t of types) listeners[t].delete(handler);
    if (timer !== null) clearTimeout(timer);
  };
}

export function onMode(fn) {
  listeners.mode.add(fn);
  fn(mode);
}
