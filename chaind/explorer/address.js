// An address: its balance and coins (GET /utxo), and the transactions that
// paid or spent it, newest first, a page at a time through an opaque cursor.
import { api, facts, fill, h, linkBlock, linkTx, load, section, table } from './dom.js';
import * as f from './format.js';

export const name = 'address';

const PAGE = 25;
const COINS_SHOWN = 100; // of the up to 10 000 /utxo lists

function coinsTable(u) {
  if (!u.utxos.length) return h('p', { class: 'muted' }, 'No unspent coins.');
  const more = u.utxos.length - COINS_SHOWN;
  return [table(['Coin', 'Amount (coins)', 'Height', 'Note'],
    u.utxos.slice(0, COINS_SHOWN).map((c) => [
      h('span', {}, linkTx(c.transaction_hash, f.short(c.transaction_hash)), `:${c.output_index}`),
      f.coins(c.amount),
      linkBlock(c.height, f.count(c.height)),
      [c.coinbase ? 'coinbase' : null, c.spent_in_mempool ? ' being spent' : null],
    ]), 'coins'),
  more > 0 ? h('p', { class: 'muted' }, `and ${f.count(more)} more coins`) : null];
}

function balanceFacts(u) {
  return facts([
    ['Address', h('span', { class: 'hash' }, u.address)],
    ['Balance', h('span', { id: 'balance' }, `${f.coins(u.total)} coins`)],
    ['Coins', u.truncated ? `the first ${f.count(u.utxos.length)} (more are not listed)`
      : f.count(u.utxos.length)],
  ]);
}

function historyPage(address, cursor) {
  const base = `#/address/${encodeURIComponent(address)}`;
  return (page) => {
    const nav = h('nav', { class: 'pager' },
      cursor ? h('a', { href: base }, '← newest') : null,
      page.next_cursor ? h('a', { href: `${base}?cursor=${encodeURIComponent(page.next_cursor)}` },
        'older →') : null);
    if (!page.transactions.length) return [h('p', { class: 'muted' }, 'No transactions.'), nav];
    return [table(['Transaction', 'Block', 'Time', 'Received (coins)', 'Sent (coins)'],
      page.transactions.map((t) => [
        linkTx(t.transaction_hash, f.short(t.transaction_hash)),
        t.height === null ? h('span', { class: 'pending' }, 'mempool') : linkBlock(t.block_hash, f.count(t.height)),
        t.timestamp === null ? '—' : f.time(t.timestamp),
        t.received ? f.coins(t.received) : '',
        t.sent ? f.coins(t.sent) : '',
      ]), 'history'), nav];
  };
}

export async function render(ctx) {
  const cursor = ctx.query.get('cursor');
  const u = await api(`/utxo/${encodeURIComponent(ctx.arg)}`, ctx.signal);
  ctx.title(`Address ${u.address}`);
  const about = section('Balance');
  const coins = section('Unspent coins');
  const history = section('Transactions');
  fill(ctx.view, h('h1', {}, 'Address'), about.el, coins.el, history.el);
  fill(about.body, balanceFacts(u));
  fill(coins.body, coinsTable(u));
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (cursor) q.set('cursor', cursor);
  await load(history.body, `/address/${encodeURIComponent(u.address)}/txs?${q}`,
    historyPage(u.address, cursor), ctx.signal);
}
