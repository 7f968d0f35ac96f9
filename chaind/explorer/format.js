// How numbers, amounts and times read on the page.

const UNITS_PER_COIN = 100000000;

// Units as coins with the decimals they need, at most 8: 250000000 -> "2.5".
// Amounts stay below 2^53 (max money is 2.1e15 units), so integer
// arithmetic on numbers is exact.
export function coins(units) {
  if (!Number.isSafeInteger(units)) return '—';
  const sign = units < 0 ? '-' : '';
  const abs = Math.abs(units);
  const whole = Math.floor(abs / UNITS_PER_COIN);
  const frac = String(abs % UNITS_PER_COIN).padStart(8, '0').replace(/0+$/, '');
  return `${sign}${count(whole)}${frac ? `.${frac}` : ''}`;
}

export function count(n) {
  return Number.isFinite(n) ? n.toLocaleString('en-US') : '—';
}

export function bytes(n) {
  if (!Number.isFinite(n)) return '—';
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(2)} MB`;
}

// Units a byte, as the API gives them (a float).
export function feeRate(r) {
  return Number.isFinite(r) ? `${r.toFixed(2)} units/B` : '—';
}

export function hashrate(h) {
  if (!Number.isFinite(h)) return '—';
  const steps = ['H/s', 'kH/s', 'MH/s', 'GH/s', 'TH/s', 'PH/s'];
  let i = 0;
  while (h >= 1000 && i < steps.length - 1) {
    h /= 1000;
    i++;
  }
  return `${i ? h.toFixed(2) : h} ${steps[i]}`;
}

export function difficulty(d) {
  if (!Number.isFinite(d)) return '—';
  return d < 1e6 ? String(Number(d.toPrecision(6))) : d.toExponential(4);
}

// Unix seconds as UTC, "2011-11-04 00:05:23 UTC".
export function time(ts) {
  if (!Number.isFinite(ts)) return '—';
  return `${new Date(ts * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

// How long ago unix second ts was, "5 min ago".
export function ago(ts) {
  const s = Math.round(Date.now() / 1000 - ts);
  if (!Number.isFinite(s)) return '';
  if (s < 0) return 'in the future';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function duration(s) {
  if (!Number.isFinite(s)) return '—';
  if (Math.abs(s) < 120) return `${Math.round(s)} s`;
  if (Math.abs(s) < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

// A hash cut to its ends for tight columns; the full one goes in a title.
export function short(hash) {
  return typeof hash === 'string' && hash.length > 20 ? `${hash.slice(0, 10)}…${hash.slice(-8)}` : hash;
}

export function bits(b) {
  return Number.isInteger(b) ? `0x${b.toString(16).padStart(8, '0')}` : '—';
}
