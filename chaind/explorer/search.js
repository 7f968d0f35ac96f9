// Search: one box for a height, a block hash, a transaction id or an address
// (Base58Check, or the 40-hex pubkey hash). GET /search says what the text
// names, in one request; the page it finds replaces this one in the
// history, so Back returns to where the search started.
import { api, fill, h } from './dom.js';

export const name = 'search';

const MAX = 100; // the longest text /search takes

const PAGES = { block: '/block/', transaction: '/tx/', address: '/address/' };

export async function render(ctx) {
  const q = (ctx.arg || '').trim();
  ctx.title('Search');
  const found = q && q.length <= MAX ? await api(`/search?q=${encodeURIComponent(q)}`, ctx.signal)
    : { kind: null };
  if (found.kind && PAGES[found.kind]) {
    location.replace(`#${PAGES[found.kind]}${encodeURIComponent(found.id)}`);
    return;
  }
  const hex = /^[0-9a-fA-F]{64}$/.test(q);
  fill(ctx.view, h('h1', {}, 'Search'),
    h('p', { id: 'search-result' }, 'Nothing matches ', h('q', { class: 'query' }, q), '.'),
    h('p', { class: 'muted' }, hex
      ? 'No block or transaction this node knows has this hash.'
      : 'A search takes a block height, a block hash, a transaction id or an address.'));
}
