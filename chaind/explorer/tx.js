// A transaction: the coins it spent, the coins it made and who spent them,
// its fee, and where it stands (confirmations, or waiting in the mempool).
import { api, facts, fill, h, linkAddress, linkBlock, linkTx, section, table } from './dom.js';
import * as f from './format.js';

export const name = 'tx';

function where(t) {
  if (t.in_mempool) return h('span', { class: 'pending', id: 'tx-status' }, 'in mempool (unconfirmed)');
  return h('span', { id: 'tx-status' }, `${f.count(t.confirmations)} confirmations, in block `,
    linkBlock(t.block_hash, f.count(t.height)));
}

function owner(o) {
  return o.address ? linkAddress(o.address)
    : h('span', { class: 'script', title: o.locking_script }, 'non-standard script');
}

function inputsTable(t) {
  if (t.coinbase) {
    return h('p', {}, 'Coinbase: new coins (the block reward and the fees of its block).');
  }
  return table(['#', 'Spends', 'Address', 'Amount (coins)'],
    t.inputs.map((i, n) => {
      const spent = i.spent_output;
      return [
        f.count(n),
        h('span', {}, linkTx(i.transaction_hash, f.short(i.transaction_hash)), `:${i.output_index}`),
        spent ? owner(spent) : '—',
        spent ? f.coins(spent.amount) : '—',
      ];
    }), 'inputs');
}

function spentBy(o) {
  const s = o.spent_by;
  if (s === undefined) return '—';
  if (s === null) return h('span', { class: 'unspent' }, 'unspent');
  return h('span', { class: 'spent' }, s.in_mempool ? 'being spent by ' : 'spent by ',
    linkTx(s.transaction_hash, f.short(s.transaction_hash)), `:${s.input_index}`);
}

function outputsTable(t) {
  return table(['#', 'Address', 'Amount (coins)', 'Status'],
    t.outputs.map((o, n) => [f.count(n), owner(o), f.coins(o.amount), spentBy(o)]), 'outputs');
}

function summary(t) {
  const out = t.outputs.reduce((sum, o) => sum + o.amount, 0);
  return facts([
    ['Transaction', h('span', { class: 'hash' }, t.transaction_hash)],
    ['Status', where(t)],
    ['Output total', f.coins(out)],
    ['Fee', t.coinbase ? 'none (coinbase)' : f.coins(t.fee)],
    ['Fee rate', t.coinbase ? '—' : f.feeRate(t.fee_rate)],
    ['Size', f.bytes(t.size)],
    ['Version', t.version],
  ]);
}

export async function render(ctx) {
  const path = `/transactions/${encodeURIComponent(ctx.arg)}`;
  const t = await api(path, ctx.signal);
  ctx.title(`Transaction ${f.short(t.transaction_hash)}`);
  const about = section('Summary');
  const ins = section('Inputs');
  const outs = section('Outputs');
  const draw = (x) => {
    fill(about.body, summary(x));
    fill(ins.body, inputsTable(x));
    fill(outs.body, outputsTable(x));
  };
  fill(ctx.view, h('h1', {}, 'Transaction'), about.el, ins.el, outs.el);
  draw(t);
  // confirmations grow, and outputs get spent
  ctx.on(['block', 'tx'], () => api(path, ctx.signal).then(draw).catch(() => {}), 2000);
}
