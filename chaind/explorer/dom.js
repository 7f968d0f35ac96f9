// The explorer's one helper for the API and the DOM. Every piece of data
// reaches the page as a text node (h() never parses markup), so nothing the
// node or a user sends can turn into HTML.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// GET path from the node; the parsed JSON, or an ApiError carrying the API's
// {"error", "message"} (or what went wrong on the way).
export async function api(path, signal) {
  let res;
  try {
    res = await fetch(path, { signal, headers: { Accept: 'application/json' } });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'the node does not answer');
  }
  let body = null;
  try {
    body = await res.json();
  } catch (err) {
    if (err.name === 'AbortError') throw err;
  }
  if (!res.ok) {
    const code = body && typeof body.error === 'string' ? body.error : `http_${res.status}`;
    const message = body && typeof body.message === 'string'
      ? body.message : `the node answered HTTP ${res.status}`;
    throw new ApiError(res.status, code, message);
  }
  if (body === null) throw new ApiError(res.status, 'bad_json', 'the node answered no JSON');
  return body;
}

function append(node, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else if (c instanceof Node) node.appendChild(c);
    else node.appendChild(document.createTextNode(String(c)));
  }
  return node;
}

// An element: h('a', {href: '#/', class: 'x'}, 'text', child, [more]).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? '' : String(v));
  }
  return append(el, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return append(el, children);
}

// Replaces node's children.
export function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err.message,
    err.code ? h('span', { class: 'code' }, ` (${err.code})`) : null);
}

// A section whose body loads on its own: a failure shows in it alone.
export function section(title) {
  const body = h('div', { class: 'section-body' }, h('p', { class: 'muted' }, 'loading…'));
  const el = h('section', {}, h('h2', {}, title), body);
  return { el, body };
}

// Fills body with build(the answer of path), or with the API's error; an
// abort (the page was left) passes through.
export async function load(body, path, build, signal) {
  try {
    fill(body, build(await api(path, signal)));
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    if (!(err instanceof ApiError)) console.error(err); // a bug of the page's
    fill(body, errorBox(err));
  }
}

export function table(headers, rows, cls) {
  return h('table', { class: cls },
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}

// Label and value pairs; a null value shows as a dash.
export function facts(pairs) {
  return h('dl', { class: 'facts' },
    pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === null || v === undefined ? '—' : v)]));
}

const enc = encodeURIComponent;

export function linkBlock(id, text) {
  return h('a', { href: `#/block/${enc(id)}`, class: 'hash' }, text ?? String(id));
}

export function linkTx(txid, text) {
  return h('a', { href: `#/tx/${enc(txid)}`, class: 'hash' }, text ?? txid);
}

export function linkAddress(address) {
  return h('a', { href: `#/address/${enc(address)}`, class: 'hash' }, address);
}
