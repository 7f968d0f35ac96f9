// The mempool: its size, how its transactions spread over fee rates, and the
// latest arrivals; refreshed as transactions and blocks come.
import { facts, fill, h, linkTx, load, section, table } from './dom.js';
import * as f from './format.js';

export const name = 'mempool';

const RECENT = 20;

function bucketLabel(b) {
  return b.fee_rate_max === null ? `≥ ${b.fee_rate_min}` : `${b.fee_rate_min}–${b.fee_rate_max}`;
}

// One bar a bucket, its length the bucket's share of the mempool's bytes.
function histogram(hist) {
  const most = Math.max(1, ...hist.buckets.map((b) => b.bytes));
  const rows = hist.buckets.map((b) => {
    const bar = h('span', { class: 'bar' });
    bar.style.width = `${(100 * b.bytes) / most}%`;
    return h('div', { class: 'bucket' },
      h('span', { class: 'bucket-label' }, bucketLabel(b)),
      h('span', { class: 'bar-track' }, bar),
      h('span', { class: 'bucket-value' }, `${f.count(b.count)} tx, ${f.bytes(b.bytes)}`));
  });
  return [
    facts([
      ['Transactions', h('span', { id: 'mempool-count' }, f.count(hist.count))],
      ['Size', f.bytes(hist.bytes)],
    ]),
    h('p', { class: 'muted' }, 'Fee rate, units a byte:'),
    h('div', { class: 'histogram' }, rows),
  ];
}

function recentTable(r) {
  if (!r.transactions.length) return h('p', { class: 'muted' }, 'The mempool is empty.');
  return table(['Transaction', 'Arrived', 'Size', 'Fee (coins)', 'Fee rate'],
    r.transactions.map((t) => [
      linkTx(t.transaction_hash, f.short(t.transaction_hash)),
      h('span', { title: f.time(t.time) }, f.ago(t.time)),
      f.bytes(t.size),
      f.coins(t.fee),
      f.feeRate(t.fee_rate),
    ]), 'recent');
}

export async function render(ctx) {
  ctx.title('Mempool');
  const hist = section('Fee rates');
  const recent = section('Latest transactions');
  fill(ctx.view, h('h1', {}, 'Mempool'), hist.el, recent.el);
  const refresh = () => Promise.all([
    load(hist.body, '/mempool/histogram', histogram, ctx.signal),
    load(recent.body, `/mempool/recent?limit=${RECENT}`, recentTable, ctx.signal),
  ]);
  ctx.on(['tx', 'block'], () => refresh().catch(() => {}), 1000);
  await refresh();
}
