// The block explorer in a real browser against a real node: chaind and
// minerd on regtest, payments made with chain-cli and the demo keys, pages
// read the way a person reads them. Expected values come from the node's
// JSON API (the explorer must show what the API says) or from the test's own
// payments. Screenshots go to BUILD/browser-artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import {
  DEMO_KEYS, SOURCE, cli, coinText, getJson, openPage, screenshot, send, startBrowser,
  startChaind, startMinerd, stop, until,
} from './harness.mjs';

const LONG_BLOCK_TXS = 30; // payments in one block: more than one page of 25
const MINER_PEM = path.join(DEMO_KEYS, 'miner.pem');

let node;
let miner = null;
let browser;
let payer; // a key with many mature coins: {pem, address}
let payees; // addresses the payments go to
let longBlock; // {hash, height, txids} of the block holding LONG_BLOCK_TXS payments

const api = (p) => getJson(`${node.url}${p}`);
const height = async () => (await api('/status')).height;

// Mines empty blocks paying address until the chain is `blocks` higher.
async function mineEmpty(address, blocks) {
  const target = (await height()) + blocks;
  const m = startMinerd(node, address, true);
  await until(async () => (await height()) >= target, 60000, `height ${target}`);
  assert.equal(await stop(m), 0, 'minerd did not exit 0');
}

async function startMiner() {
  miner = startMinerd(node, (await cli(node, 'address', MINER_PEM)).address, false);
}

async function stopMiner() {
  assert.equal(await stop(miner), 0, 'minerd did not exit 0');
  miner = null;
}

before(async () => {
  node = await startChaind();
  const pem = path.join(node.dir, 'payer.pem');
  payer = { pem, address: (await cli(node, 'keygen', '--out', pem)).address };
  payees = await Promise.all(['albert', 'bertrand', 'camille']
    .map(async (n) => (await cli(node, 'address', path.join(DEMO_KEYS, `${n}.pem`))).address));
  // coins for the payer, then blocks to someone else so that all of them
  // are past coinbase maturity (2 on regtest)
  await mineEmpty(payer.address, LONG_BLOCK_TXS + 5);
  await mineEmpty((await cli(node, 'address', MINER_PEM)).address, 3);

  const before = await height();
  const txids = [];
  for (let i = 0; i < LONG_BLOCK_TXS; i++) {
    txids.push(await send(node, payer.pem, payees[i % payees.length], (1 + i / 100).toFixed(2)));
  }
  await startMiner();
  await until(async () => (await api('/status')).mempool_size === 0, 30000, 'the payments to be mined');
  const mined = await api(`/block/${before + 1}`);
  longBlock = {
    hash: mined.header.hash,
    height: mined.header.height,
    txids: mined.transactions.map((t) => t.transaction_hash),
  };
  assert.equal(longBlock.txids.length, LONG_BLOCK_TXS + 1, 'the payments did not all go in one block');
  assert.deepEqual(new Set(longBlock.txids.slice(1)), new Set(txids));
  browser = await startBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (miner) await stop(miner);
  if (node) {
    assert.equal(await stop(node.child), 0, `chaind did not exit 0 on SIGTERM (see ${node.log})`);
    fs.rmSync(node.dir, { recursive: true, force: true });
  }
});

// A tab on the explorer at hash. checkProblems() asserts that it logged no
// error and threw nothing, and that no request failed but those matching
// expected (regular expressions).
async function explorer(hash = '') {
  const page = await openPage(browser);
  await page.goto(`${node.url}/${hash}`);
  page.checkProblems = (expected = []) => {
    assert.deepEqual(page.problems, [], 'the page logged errors');
    const failed = page.failed.filter((f) => !expected.some((re) => re.test(f)));
    assert.deepEqual(failed, [], 'requests of the page failed');
  };
  return page;
}

const text = (page, sel) => page.locator(sel).first().innerText();

test('the home page shows a new block without a reload', async () => {
  const page = await explorer();
  await page.locator('#tip-height').waitFor();
  const h0 = await height();
  assert.equal(await text(page, '#tip-height'), h0.toLocaleString('en-US'));
  assert.equal(await page.locator('table.blocks tbody tr').count(), 10);
  await page.evaluate(() => { window.notReloaded = true; });
  await send(node, payer.pem, payees[0], 0.5); // the running miner mines it
  await until(async () => (await height()) === h0 + 1, 20000, 'the block');
  await page.locator('#tip-height', { hasText: (h0 + 1).toLocaleString('en-US') })
    .waitFor({ timeout: 10000 });
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was reloaded');
  // and the latest blocks list it first
  await page.locator('table.blocks tbody tr:first-child td:first-child',
    { hasText: new RegExp(`^${(h0 + 1).toLocaleString('en-US')}$`) }).waitFor({ timeout: 10000 });
  await screenshot(page, 'home');
  page.checkProblems();
  await page.close();
});

test('with the event stream refused, the home page polls /status', async () => {
  const page = await openPage(browser);
  // as a server whose event-stream slots are all taken answers
  await page.route('**/events', (route) => route.fulfill({
    status: 503,
    contentType: 'application/json',
    body: JSON.stringify({ error: 'unavailable', message: 'all event streams are taken' }),
  }));
  await page.goto(`${node.url}/`);
  await page.locator('#live-mode', { hasText: 'every 5 s' }).waitFor();
  const h0 = await height();
  await page.locator('#tip-height', { hasText: h0.toLocaleString('en-US') }).waitFor();
  await send(node, payer.pem, payees[2], 0.5);
  await until(async () => (await height()) === h0 + 1, 20000, 'the block');
  await page.locator('#tip-height', { hasText: (h0 + 1).toLocaleString('en-US') })
    .waitFor({ timeout: 12000 });
  assert.deepEqual(page.problems, []);
  assert.deepEqual(page.failed, ['GET /events -> 503']);
  await page.close();
});

test('searching an address shows the balance /utxo gives', async () => {
  const page = await explorer();
  const utxo = await api(`/utxo/${payer.address}`);
  assert.ok(utxo.total > 0);
  await page.fill('#search-q', payer.address);
  await page.press('#search-q', 'Enter');
  await page.locator('#balance').waitFor();
  assert.equal(await text(page, '#balance'), `${coinText(utxo.total)} coins`);
  assert.equal(await page.locator('table.coins tbody tr').count(), Math.min(100, utxo.utxos.length));
  await page.locator('table.history').waitFor();
  assert.ok(await page.locator('table.history tbody tr').count() > 0);
  await screenshot(page, 'address');
  page.checkProblems();
  await page.close();
});

test('a transaction page, and its block page from it', async () => {
  const txid = longBlock.txids[1];
  const tx = await api(`/transactions/${txid}`);
  const page = await explorer();
  await page.fill('#search-q', txid);
  await page.press('#search-q', 'Enter');
  await page.locator('#tx-status').waitFor();
  assert.match(await text(page, '#tx-status'), new RegExp(`${tx.confirmations} confirmations`));
  const inputs = page.locator('table.inputs tbody tr');
  assert.equal(await inputs.count(), tx.inputs.length);
  assert.match(await inputs.first().innerText(), new RegExp(payer.address));
  const outputs = page.locator('table.outputs tbody tr');
  assert.equal(await outputs.count(), tx.outputs.length);
  for (let i = 0; i < tx.outputs.length; i++) {
    const row = await outputs.nth(i).innerText();
    assert.match(row, new RegExp(coinText(tx.outputs[i].amount).replace('.', '\\.')));
    assert.match(row, tx.outputs[i].spent_by ? /spent by/ : /unspent/);
  }
  await screenshot(page, 'transaction');
  await page.locator('#tx-status a').click();
  await page.locator('#block-hash').waitFor();
  assert.equal(await text(page, '#block-hash'), longBlock.hash);
  assert.match(page.url(), new RegExp(`#/block/${longBlock.hash}$`));
  await screenshot(page, 'block');
  page.checkProblems();
  await page.close();
});

test("a long block's transactions page through", async () => {
  const page = await explorer(`#/block/${longBlock.height}`);
  const seen = [];
  const pager = page.locator('nav.pager span').first();
  const total = longBlock.txids.length;
  for (let offset = 0; offset < total; offset += 25) {
    const last = Math.min(total, offset + 25);
    await page.locator('nav.pager span', { hasText: `transactions ${offset + 1}–${last} of ${total}` })
      .first().waitFor();
    const links = page.locator('table.txs tbody tr td:nth-child(2) a');
    assert.equal(await links.count(), last - offset);
    for (const href of await links.evaluateAll((as) => as.map((a) => a.getAttribute('href')))) {
      seen.push(decodeURIComponent(href.replace('#/tx/', '')));
    }
    if (offset === 0) await screenshot(page, 'block-page-1');
    if (last < total) await page.locator('nav.pager a', { hasText: 'next' }).first().click();
  }
  assert.deepEqual(seen, longBlock.txids, 'the pages did not list the block\'s transactions in order');
  assert.match(await pager.innerText(), new RegExp(`of ${total}`));
  page.checkProblems();
  await page.close();
});

test('the mempool page shows a submission', async () => {
  await stopMiner(); // so that the payment waits in the mempool
  try {
    const txid = await send(node, payer.pem, payees[1], 0.25);
    const page = await explorer('#/mempool');
    await page.locator(`table.recent a[href="#/tx/${txid}"]`).waitFor({ timeout: 10000 });
    const hist = await api('/mempool/histogram');
    assert.equal(await text(page, '#mempool-count'), hist.count.toLocaleString('en-US'));
    assert.ok(hist.count >= 1);
    await screenshot(page, 'mempool');
    // and the transaction's own page says it waits
    await page.locator(`table.recent a[href="#/tx/${txid}"]`).click();
    await page.locator('#tx-status', { hasText: 'in mempool' }).waitFor();
    page.checkProblems();
    await page.close();
  } finally {
    await startMiner();
  }
});

test('the chart page draws the last blocks as SVG', async () => {
  const page = await explorer('#/chart?n=50');
  await page.locator('svg.plot').nth(1).waitFor();
  assert.equal(await page.locator('svg.plot').first().locator('rect.mark').count(), 50);
  assert.equal(await page.locator('svg.plot').nth(1).locator('circle.mark').count(), 51);
  await screenshot(page, 'chart');
  page.checkProblems();
  await page.close();
});

test("an unknown transaction shows the API's message", async () => {
  const page = await explorer(`#/tx/${'0'.repeat(64)}`);
  await page.locator('p.error').waitFor();
  assert.match(await text(page, 'p.error'), /unknown transaction/);
  page.checkProblems([new RegExp(`^GET /transactions/${'0'.repeat(64)} -> 404$`)]);
  await page.close();
});

const MARKUP = '<img src=x onerror="window.injected=1"><b>bold</b>';

test('markup typed into the search renders as text', async () => {
  const page = await explorer();
  await page.fill('#search-q', MARKUP);
  await page.press('#search-q', 'Enter');
  await page.locator('#search-result').waitFor();
  assert.equal(await page.locator('#search-result q').innerText(), MARKUP);
  assert.equal(await page.locator('#view img, #view b').count(), 0, 'the markup became elements');
  assert.equal(await page.evaluate(() => window.injected), undefined);
  await screenshot(page, 'search-markup');
  page.checkProblems();
  await page.close();
});

test('markup in an advertised hostname renders as text', async () => {
  const host = '<img/src=x/onerror=window.injected=2>:9333';
  const res = await fetch(`${node.url}/new_node_advertisement`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ hostname: host }),
  });
  assert.equal(res.status, 200, await res.text());
  const page = await explorer();
  await page.locator('#tip-height').waitFor();
  await page.locator('section', { hasText: 'Peers' }).locator('table, p').first().waitFor();
  // the peers list shows what gossipd reports; whatever it holds is text
  const peers = await api('/known_node_request');
  for (const p of peers) {
    assert.equal(await page.locator('table.peers span.hash', { hasText: p.hostname }).count(), 1);
  }
  assert.equal(await page.locator('#view img').count(), 0, 'a hostname became an element');
  assert.equal(await page.evaluate(() => window.injected), undefined);
  page.checkProblems();
  await page.close();
});

test('the API answers as docs/openapi.json says', async () => {
  const script = path.join(SOURCE, 'tests/http_schema.py');
  const r = await promisify(execFile)('/usr/bin/python3', [script, node.url]).catch((e) => e);
  assert.equal(r.code ?? 0, 0, `${r.stdout}\n${r.stderr}`);
});
