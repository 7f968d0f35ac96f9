// Search: one box for a height, a block hash, a transaction id or an address
// (Base58Check, or the 40-hex pubkey hash). The page it finds replaces this
// one in the history, so Back returns to where the search started.
import { exists, fill, h } from './dom.js';

export const name = 'search';

const BASE58 = /^[1-9A-HJ-NP-Za-km-z]{25,40}$/;

// What the text looks like: 'height', 'hash' (a block or a transaction),
// 'address', or null.
function classify(q) {
  if (/^\d{1,15}$/.test(q)) return 'height';
  if (/^[0-9a-fA-F]{64}$/.test(q)) return 'hash';
  if (/^[0-9a-fA-F]{40}$/.test(q) || BASE58.test(q)) return 'address';
  return null;
}

function go(route) {
  location.replace(`#${route}`);
}

export async function render(ctx) {
  const q = (ctx.arg || '').trim();
  ctx.title('Search');
  const kind = classify(q);
  if (kind === 'height') return go(`/block/${Number(q)}`);
  if (kind === 'address') return go(`/address/${encodeURIComponent(q)}`);
  if (kind === 'hash') {
    const hash = q.toLowerCase();
    // a transaction is the likelier search; a block hash is tried next
    if (await exists(`/transactions/${hash}`, ctx.signal)) return go(`/tx/${hash}`);
    if (await exists(`/block/${hash}`, ctx.signal)) return go(`/block/${hash}`);
  }
  fill(ctx.view, h('h1', {}, 'Search'),
    h('p', { id: 'search-result' }, 'Nothing matches ', h('q', { class: 'query' }, q), '.'),
    h('p', { class: 'muted' }, kind === 'hash'
      ? 'No block or transaction this node knows has this hash.'
      : 'A search takes a block height, a block hash, a transaction id or an address.'));
}
