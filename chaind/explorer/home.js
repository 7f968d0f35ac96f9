// Home: the node's state and the latest blocks, refreshed on each new block
// (and on new transactions, for the mempool's numbers) without a reload.
import { facts, fill, h, linkBlock, load, section, table } from './dom.js';
import * as f from './format.js';

export const name = 'home';

const LATEST = 10;

function statusFacts(s) {
  return facts([
    ['Height', h('span', { id: 'tip-height' }, linkBlock(s.height, f.count(s.height)))],
    ['Tip', linkBlock(s.tip)],
    ['Tip time', `${f.time(s.tip_timestamp)} (${f.ago(s.tip_timestamp)})`],
    ['Difficulty', f.difficulty(s.difficulty)],
    ['Hash rate', f.hashrate(s.hashrate)],
    ['Mempool', h('a', { href: '#/mempool', id: 'mempool-size' },
      `${f.count(s.mempool_size)} transactions, ${f.bytes(s.mempool_bytes)}`)],
    ['Peers', f.count(s.peers)],
    ['Network', s.network],
  ]);
}

function blocksTable(list) {
  return table(['Height', 'Hash', 'Time', 'Transactions', 'Size'],
    list.blocks.map((b) => [
      linkBlock(b.height, f.count(b.height)),
      linkBlock(b.hash, f.short(b.hash)),
      h('span', { title: f.time(b.timestamp) }, f.ago(b.timestamp)),
      f.count(b.tx_count),
      f.bytes(b.size),
    ]), 'blocks');
}

function peersTable(peers) {
  if (!peers.length) return h('p', { class: 'muted' }, 'No peers connected.');
  return table(['Peer', 'Height', 'Direction'],
    peers.map((p) => [h('span', { class: 'hash' }, p.hostname), f.count(p.height),
      p.inbound ? 'inbound' : 'outbound']), 'peers');
}

export async function render(ctx) {
  ctx.title('Home');
  const status = section('Node');
  const blocks = section('Latest blocks');
  const peers = section('Peers');
  fill(ctx.view, h('h1', {}, 'Chain explorer'), status.el, blocks.el, peers.el);
  const refreshStatus = () => load(status.body, '/status', statusFacts, ctx.signal);
  const refreshAll = () => Promise.all([
    refreshStatus(),
    load(blocks.body, `/blocks?limit=${LATEST}`, blocksTable, ctx.signal),
    load(peers.body, '/known_node_request', peersTable, ctx.signal),
  ]);
  ctx.on(['block'], () => refreshAll().catch(() => {}), 500);
  ctx.on(['tx'], () => refreshStatus().catch(() => {}), 1000);
  await refreshAll();
}
