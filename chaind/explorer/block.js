// A block: its header, its neighbours, and its transactions a page at a time,
// all from one request: GET /block/<id>/txs answers the block's header and
// facts with each page (never the whole block, which may be a megabyte).
import { api, facts, fill, h, linkBlock, linkTx, section, table } from './dom.js';
import * as f from './format.js';

export const name = 'block';

const PAGE = 25;

function headerFacts(b) {
  const hd = b.header;
  return facts([
    ['Hash', h('span', { class: 'hash', id: 'block-hash' }, hd.hash)],
    ['Height', b.main_chain ? f.count(hd.height) : `${f.count(hd.height)} (not on the main chain)`],
    ['Time', `${f.time(hd.timestamp)} (${f.ago(hd.timestamp)})`],
    ['Previous', linkBlock(hd.previous_block_hash)],
    ['Next', b.next_block_hash ? linkBlock(b.next_block_hash)
      : (b.main_chain ? 'none yet: this is the tip' : 'none on the main chain')],
    ['Transactions', f.count(b.tx_count)],
    ['Size', f.bytes(b.size)],
    ['Merkle root', h('span', { class: 'hash' }, hd.merkle_root)],
    ['Bits', f.bits(hd.bits)],
    ['Nonce', hd.nonce],
    ['Version', hd.version],
  ]);
}

function outputsTotal(t) {
  return t.outputs.reduce((sum, o) => sum + o.amount, 0);
}

function pager(hash, offset, shown, total) {
  const link = (o, text) => h('a', { href: `#/block/${hash}?offset=${o}` }, text);
  const last = offset + shown;
  return h('nav', { class: 'pager' },
    offset > 0 ? link(Math.max(0, offset - PAGE), '← previous') : null,
    h('span', {}, shown ? `transactions ${f.count(offset + 1)}–${f.count(last)} of ${f.count(total)}`
      : `no transactions from ${f.count(offset + 1)} (of ${f.count(total)})`),
    last < total ? link(last, 'next →') : null);
}

function txTable(page, offset) {
  return table(['#', 'Transaction', 'Output total (coins)', 'Fee (coins)', 'Fee rate', 'Size'],
    page.transactions.map((t, i) => [
      f.count(offset + i),
      linkTx(t.transaction_hash, f.short(t.transaction_hash)),
      f.coins(outputsTotal(t)),
      t.coinbase ? 'coinbase' : f.coins(t.fee),
      t.coinbase ? '' : f.feeRate(t.fee_rate),
      f.bytes(t.size),
    ]), 'txs');
}

function txsPage(page, offset) {
  const nav = pager(page.hash, offset, page.transactions.length, page.tx_count);
  return [nav, txTable(page, offset), nav.cloneNode(true)];
}

export async function render(ctx) {
  const offset = Math.max(0, Number.parseInt(ctx.query.get('offset') || '0', 10) || 0);
  const path = (id) => `/block/${encodeURIComponent(id)}/txs?offset=${offset}&limit=${PAGE}`;
  const page = await api(path(ctx.arg), ctx.signal);
  ctx.title(`Block ${page.height}`);
  const head = section('Header');
  const txs = section('Transactions');
  fill(ctx.view, h('h1', {}, `Block ${f.count(page.height)}`), head.el, txs.el);
  fill(head.body, headerFacts(page));
  fill(txs.body, txsPage(page, offset));
  if (!page.next_block_hash && page.main_chain) {
    // the tip: show the next block once it comes
    ctx.on(['block'], () => api(path(page.hash), ctx.signal)
      .then((p) => fill(head.body, headerFacts(p))).catch(() => {}), 1000);
  }
}
