// The explorer's router: the part of the URL after '#' names the page
// ("#/block/12?offset=25"); each page module renders into <main>. Moving to
// another page aborts what the last one still had in flight.
import { ApiError, api, errorBox, fill, h } from './dom.js';
import * as live from './live.js';
import * as home from './home.js';
import * as block from './block.js';
import * as tx from './tx.js';
import * as address from './address.js';
import * as mempool from './mempool.js';
import * as chart from './chart.js';
import * as search from './search.js';

const routes = [
  [/^\/?$/, home],
  [/^\/block\/([^/]+)$/, block],
  [/^\/tx\/([^/]+)$/, tx],
  [/^\/address\/([^/]+)$/, address],
  [/^\/mempool$/, mempool],
  [/^\/chart$/, chart],
  [/^\/search\/(.*)$/, search],
];

const view = document.getElementById('view');
let current = null; // {controller, unsubscribers} of the page shown

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  return { path, query };
}

function leave() {
  if (!current) return;
  current.controller.abort();
  for (const off of current.unsubscribers) off();
  current = null;
}

function notFound(ctx) {
  ctx.title('Not found');
  fill(ctx.view, h('h1', {}, 'Not found'),
    h('p', {}, 'The explorer has no page at this address. ', h('a', { href: '#/' }, 'Home')));
}

async function show() {
  leave();
  const { path, query } = parseHash();
  let page = { render: notFound, name: 'none' };
  let arg = null;
  for (const [re, mod] of routes) {
    const m = re.exec(path);
    if (m) {
      page = mod;
      try {
        arg = m[1] === undefined ? null : decodeURIComponent(m[1]);
      } catch {
        page = { render: notFound, name: 'none' };
      }
      break;
    }
  }
  const controller = new AbortController();
  const unsubscribers = [];
  current = { controller, unsubscribers };
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.dataset.page === page.name);
  }
  const ctx = {
    view,
    arg,
    query,
    signal: controller.signal,
    title: (t) => { document.title = `${t} · chain explorer`; },
    // refresh on node events while this page is shown
    on: (types, fn, minMs) => {
      if (!controller.signal.aborted) unsubscribers.push(live.subscribe(types, fn, minMs));
    },
  };
  fill(view, h('p', { class: 'muted' }, 'loading…'));
  window.scrollTo(0, 0);
  try {
    await page.render(ctx);
  } catch (err) {
    if (err.name === 'AbortError' || controller.signal.aborted) return;
    if (!(err instanceof ApiError)) console.error(err); // a bug of the page's, not the node's answer
    fill(view, h('h1', {}, 'Cannot show this page'), errorBox(err));
  }
}

function setupSearch() {
  const form = document.getElementById('search');
  const input = document.getElementById('search-q');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = input.value.trim();
    if (q) location.hash = `#/search/${encodeURIComponent(q)}`;
  });
}

async function footer() {
  const info = document.getElementById('node-info');
  live.onMode((m) => {
    const text = { live: 'live updates', polling: 'updates every 5 s', reconnecting: 'reconnecting…' };
    fill(document.getElementById('live-mode'), text[m] || '');
  });
  try {
    const s = await api('/status');
    fill(info, `${s.network} network · chaind ${s.version}`);
  } catch (err) {
    fill(info, `node: ${err.message}`);
  }
}

setupSearch();
window.addEventListener('hashchange', show);
live.start();
footer();
show();
