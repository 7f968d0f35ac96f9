// What the browser tests stand on: real daemons from the build directory on
// loopback ports (regtest), chain-cli for payments, and Debian's Chromium
// driven by playwright-core. Nothing here is downloaded or faked.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

export const SOURCE = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const BUILD = path.resolve(process.env.CHAIN_BUILD_DIR || path.join(SOURCE, 'build-release'));
export const ARTIFACTS = path.join(BUILD, 'browser-artifacts');
export const DEMO_KEYS = path.join(SOURCE, 'deploy/demo-keys');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; fails after ms with what.
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

// A loopback port free when drawn (the daemon may still lose it to a
// racing process: startChaind draws again then).
export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

function launch(bin, args, log) {
  const fd = fs.openSync(log, 'a');
  const child = spawn(path.join(BUILD, bin), args, { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.exitPromise = once(child, 'exit');
  return child;
}

// SIGTERM, then SIGKILL after 10 s; the exit code (null when killed).
export async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
  const [code] = await child.exitPromise;
  clearTimeout(timer);
  return code;
}

export async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}: ${await res.text()}`);
  return res.json();
}

// chaind on regtest in a fresh data directory; {url, rpc, events, dir, log,
// child}. Its log, and minerd's, are kept with the screenshots.
export async function startChaind() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'explorer-test-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const log = path.join(ARTIFACTS, 'chaind.log');
  for (let attempt = 0; attempt < 3; attempt++) {
    const [http, rpc, events] = [await freePort(), await freePort(), await freePort()];
    const node = {
      dir,
      log,
      url: `http://127.0.0.1:${http}`,
      rpc: `tcp://127.0.0.1:${rpc}`,
      events: `tcp://127.0.0.1:${events}`,
    };
    node.child = launch('chaind/chaind', ['--network', 'regtest', '--datadir', path.join(dir, 'data'),
      '--http', `127.0.0.1:${http}`, '--rpc', node.rpc, '--events', node.events,
      '--verify-threads', '2'], log);
    const up = await until(async () => {
      if (node.child.exitCode !== null) return 'exited';
      return (await fetch(`${node.url}/healthz`)).ok && 'up';
    }, 10000, `chaind to answer /healthz (see ${log})`);
    if (up === 'up') return node;
    if (!fs.readFileSync(log, 'utf8').includes('Address already in use')) {
      throw new Error(`chaind exited at start (see ${log})`);
    }
  }
  throw new Error(`chaind found its ports taken three times (see ${log})`);
}

// minerd for node paying payout; emptyBlocks: mine without transactions too.
export function startMinerd(node, payout, emptyBlocks) {
  const args = ['--network', 'regtest', '--rpc', node.rpc, '--events', node.events,
    '--payout', payout, '--threads', '1', '--worker', 'browser-test',
    // the key chaind made for miners at its first start
    '--rpc-key', path.join(node.dir, 'data', 'rpc', 'miner.key')];
  if (emptyBlocks) args.push('--empty-blocks');
  return launch('minerd/minerd', args, path.join(ARTIFACTS, 'minerd.log'));
}

// chain-cli --json against node; its parsed answer.
export async function cli(node, ...args) {
  const { stdout } = await run(path.join(BUILD, 'cli/chain-cli'),
    ['--node', node.url, '--network', 'regtest', '--json', ...args]);
  return JSON.parse(stdout);
}

// Pays amount coins from the key file to address; the txid.
export async function send(node, fromPem, address, amount) {
  const r = await cli(node, 'send', '--from', fromPem, '--to', address, '--amount', String(amount));
  return r.transaction_hash;
}

// Units as the explorer should show coins: "6.25", "40", "0.0000218".
export function coinText(units) {
  const frac = String(units % 1e8).padStart(8, '0').replace(/0+$/, '');
  return `${Math.floor(units / 1e8).toLocaleString('en-US')}${frac ? `.${frac}` : ''}`;
}

const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

// Debian's Chromium, headless, in a fresh profile; {context, close}.
export async function startBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'explorer-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Chromium's console line for each answer of status >= 400; such answers
// are listed by URL in page.failed instead.
const LOAD_FAILED = /^Failed to load resource: the server responded with a status of \d+/;

// A new tab that collects its console errors and uncaught exceptions in
// page.problems, and the requests answered with an error in page.failed
// ("GET /events -> 404").
export async function openPage(browser) {
  const page = await browser.context.newPage();
  page.problems = [];
  page.failed = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !LOAD_FAILED.test(msg.text())) page.problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => page.problems.push(`exception: ${err.message}`));
  page.on('response', (res) => {
    if (res.status() >= 400) {
      const u = new URL(res.url());
      page.failed.push(`${res.request().method()} ${u.pathname}${u.search} -> ${res.status()}`);
    }
  });
  return page;
}

export async function screenshot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
