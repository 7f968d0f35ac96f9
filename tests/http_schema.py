#!/usr/bin/python3
"""Checks a running chaind's answers against docs/openapi.json.

    tests/http_schema.py BASE_URL [--doc PATH]

It asks each route of the document, with arguments taken from the node
itself (its tip, the genesis transaction and one of its addresses, a mempool
transaction when there is one) and with requests that must fail, and checks
that each answer's status is the expected one and one the document lists
for the route, that its Content-Type is the documented one, and that its
body validates against the documented schema (JSON Schema 2020-12).
Requests that would change the chain are only ones the node must refuse.

One line a request; the last says 'N passed, N failed'. Exit status 0 when
every request passed. Needs Debian's python3-jsonschema; nothing else.
"""
import argparse
import json
import re
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema

DOC = Path(__file__).resolve().parent.parent / 'docs' / 'openapi.json'
DOC_URI = 'urn:chain:openapi'
TIMEOUT = 10
ZEROS = '0' * 64


def describe(error):
    """One line for a validation error; of a oneOf/anyOf, its likeliest cause."""
    if error.context:
        error = jsonschema.exceptions.best_match(error.context)
    where = '/'.join(map(str, error.absolute_path)) or '(root)'
    return f'{where}: {error.message[:200]}'


class Checker:
    def __init__(self, base, doc):
        self.base = base.rstrip('/')
        self.doc = doc
        self.resolver = jsonschema.RefResolver(DOC_URI, doc, store={DOC_URI: doc})
        self.passed = self.failed = 0
        # each documented path as a regular expression, templates as one segment
        self.templates = [(re.compile('^' + re.sub(r'\\\{[^}]+\\\}', '[^/]+', re.escape(p)) + '$'), p)
                          for p in doc['paths']]

    def request(self, method, path, body=None, content_type='application/json', headers=None):
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        if data is not None:
            req.add_header('Content-Type', content_type)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as res:
                return res.status, res.headers, res.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def operation(self, method, path):
        """(template, operation) the document gives for method and path."""
        bare = urlsplit(path).path
        for regex, template in self.templates:
            if regex.match(bare) and method.lower() in self.doc['paths'][template]:
                return template, self.doc['paths'][template][method.lower()]
        return None, None

    def validate(self, body, pointer):
        schema = {'$ref': f'{DOC_URI}#{pointer}'}
        v = jsonschema.Draft202012Validator(schema, resolver=self.resolver)
        return [describe(e) for e in v.iter_errors(body)]

    def problems(self, method, path, status, headers, raw):
        template, op = self.operation(method, path)
        if op is None:
            return [f'{method} {path} is not in the document']
        if str(status) not in op['responses']:
            return [f'status {status} is not documented for {method} {template}']
        resp = op['responses'][str(status)]
        pointer = f'/paths/{template.replace("~", "~0").replace("/", "~1")}/{method.lower()}/responses/{status}'
        if '$ref' in resp:
            pointer = resp['$ref'][1:]
            resp = self.resolver.resolve(resp['$ref'])[1]
        content = resp.get('content')
        if not content:
            return [] if not raw else [f'status {status} documents no body, {len(raw)} bytes came']
        got = (headers.get('Content-Type') or '').replace(' ', '').lower()
        media = next((m for m in content if m.replace(' ', '').lower() == got), None)
        if media is None:
            return [f'Content-Type {got!r} is none of {sorted(content)}']
        if not media.startswith('application/json'):
            return []
        try:
            body = json.loads(raw)
        except ValueError as e:
            return [f'the body is not JSON: {e}']
        esc = media.replace('~', '~0').replace('/', '~1')
        return self.validate(body, f'{pointer}/content/{esc}/schema')

    def check(self, method, path, want, body=None, **kw):
        """Asks; the parsed body of an answer with the wanted status, else None."""
        try:
            status, headers, raw = self.request(method, path, body, **kw)
        except (OSError, urllib.error.URLError) as e:
            self.report(f'{method} {path}', [f'no answer: {e}'])
            return None
        errors = [] if status == want else [f'status {status}, expected {want}: {raw[:200]!r}']
        errors += self.problems(method, path, status, headers, raw)
        self.report(f'{method} {path} -> {status}', errors)
        try:
            return json.loads(raw) if status == want else None
        except ValueError:
            return None

    def report(self, what, errors):
        if errors:
            self.failed += 1
            print(f'FAIL {what}')
            for e in errors[:10]:
                print(f'     {e}')
        else:
            self.passed += 1
            print(f'ok   {what}')

    def check_events(self):
        """/events: 200 and a text/event-stream (its first bytes, when any come soon)."""
        u = urlsplit(self.base)
        errors = []
        try:
            with socket.create_connection((u.hostname, u.port or 80), timeout=TIMEOUT) as s:
                s.sendall(f'GET /events HTTP/1.1\r\nHost: {u.netloc}\r\nAccept: text/event-stream\r\n\r\n'.encode())
                s.settimeout(3)
                head = b''
                while b'\r\n\r\n' not in head and len(head) < 8192:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    head += chunk
        except OSError as e:
            self.report('GET /events', [f'no answer: {e}'])
            return
        lines = head.split(b'\r\n')
        status = int(lines[0].split()[1]) if len(lines[0].split()) > 1 else 0
        ctype = next((ln.split(b':', 1)[1].strip().decode() for ln in lines[1:]
                      if ln.lower().startswith(b'content-type:')), '')
        if status != 200:
            errors.append(f'status {status}, expected 200')
        if not ctype.startswith('text/event-stream'):
            errors.append(f'Content-Type {ctype!r}, expected text/event-stream')
        _, op = self.operation('GET', '/events')
        if op is None or '200' not in op['responses']:
            errors.append('GET /events 200 is not in the document')
        self.report(f'GET /events -> {status}', errors)

    def check_assets(self):
        page_status, headers, _ = self.request('GET', '/')
        self.check('GET', '/', 200)
        etag = headers.get('ETag') if page_status == 200 else None
        if etag:
            status, _, raw = self.request('GET', '/', headers={'If-None-Match': etag})
            self.report(f'GET / If-None-Match -> {status}',
                        [] if status == 304 and not raw else [f'status {status}, expected 304 and no body'])
        self.check('GET', '/index.html', 200)
        self.check('GET', '/explorer/app.js', 200)
        self.check('GET', '/explorer/style.css', 200)
        self.check('GET', '/explorer/no-such-file.js', 404)
        served = self.check('GET', '/openapi.json', 200)
        if served is not None:
            self.report('the served /openapi.json is docs/openapi.json',
                        [] if served == self.doc else ['it differs from the document checked here'])


def address_of(tx):
    """An address (or the 40-hex pubkey hash) that tx pays, from its first output."""
    out = tx['outputs'][0]
    if out.get('address'):
        return out['address']
    m = re.search(r'OP_HASH160 ([0-9a-f]{40})', out['locking_script'])
    return m.group(1) if m else None


def run(c):
    status = c.check('GET', '/status', 200) or {}
    tip = status.get('tip', ZEROS)
    height = status.get('height', 0)
    c.check('GET', '/healthz', 200)
    c.check('GET', '/readyz', 200)
    c.check('GET', '/metrics', 200)
    c.check('GET', '/known_node_request', 200)
    c.check('GET', '/utxo-set', 200)

    c.check('GET', '/block?limit=2', 200)
    c.check('GET', '/block?limit=0', 400)
    page = c.check('GET', '/blocks?limit=5', 200)
    if page and page.get('next') is not None:
        c.check('GET', f'/blocks?from={page["next"]}&limit=5', 200)
    c.check('GET', '/blocks?limit=101', 400)
    genesis = c.check('GET', '/block/0', 200) or {}
    c.check('GET', f'/block/{tip}', 200)
    c.check('GET', f'/block/{height}?format=hex', 200)
    c.check('GET', f'/block/{ZEROS}', 404)
    c.check('GET', f'/block/{height + 1000000}', 404)
    c.check('GET', '/block/not-a-block', 400)
    c.check('GET', f'/block/{tip}/txs?limit=5', 200)
    c.check('GET', '/block/0/txs?offset=0&limit=1', 200)
    c.check('GET', '/block/0/txs?limit=0', 400)
    c.check('GET', '/block/0/txs?offset=1', 200)  # past the last: an empty page
    c.check('GET', f'/block/{ZEROS}/txs', 404)
    c.check('GET', '/block/not-a-block/txs', 400)

    gtx = (genesis.get('transactions') or [{}])[0]
    txid = gtx.get('transaction_hash', ZEROS)
    tx = c.check('GET', f'/transactions/{txid}', 200) or gtx
    c.check('GET', f'/transactions/{ZEROS}', 404)
    c.check('GET', '/transactions/xyz', 400)
    addr = address_of(tx) if tx.get('outputs') else None
    if addr:
        c.check('GET', f'/utxo/{addr}', 200)
        hist = c.check('GET', f'/address/{addr}/txs?limit=2', 200)
        if hist and hist.get('next_cursor'):
            c.check('GET', f'/address/{addr}/txs?limit=2&cursor={urllib.request.quote(hist["next_cursor"])}', 200)
    c.check('GET', '/utxo/not-an-address', 400)
    c.check('GET', '/address/not-an-address/txs', 400)
    if addr:
        c.check('GET', f'/address/{addr}/txs?cursor=nonsense', 400)
        c.check('GET', f'/search?q={addr}', 200)
    c.check('GET', '/search?q=0', 200)
    c.check('GET', f'/search?q={txid}', 200)
    c.check('GET', f'/search?q={ZEROS}', 200)
    c.check('GET', '/search?q=%3Cb%3E', 200)
    c.check('GET', '/search', 400)
    c.check('GET', '/search?q=' + 'x' * 101, 400)

    pool = c.check('GET', '/mempool', 200)
    if pool:
        c.check('GET', f'/transactions/{pool[0]["transaction_hash"]}', 200)
        c.check('GET', f'/search?q={pool[0]["transaction_hash"]}', 200)
    c.check('GET', '/mempool/histogram', 200)
    c.check('GET', '/mempool/recent?limit=5', 200)
    c.check('GET', '/mempool/recent?limit=0', 400)
    c.check_events()

    # refused requests: they must change nothing, and say why as documented
    c.check('POST', '/transactions', 400, body={})
    c.check('POST', '/transactions', 415, body=b'{}', content_type='text/plain')
    c.check('POST', '/transactions', 400, body={'hex': 'zz'})
    c.check('POST', '/block', 400, body={'hex': '00'})
    c.check('POST', '/block', 400, body=b'{', content_type='application/json')
    c.check('POST', '/new_node_advertisement', 400, body={'hostname': 'no port'})
    c.check_assets()

    # routes the document lacks still answer the Error schema
    for method, path, want in (('GET', '/no/such/route', 404), ('POST', '/status', 405)):
        st, headers, raw = c.request(method, path, body={} if method == 'POST' else None)
        errors = [] if st == want else [f'status {st}, expected {want}']
        try:
            errors += c.validate(json.loads(raw), '/components/schemas/Error')
        except ValueError:
            errors.append('the body is not JSON')
        c.report(f'{method} {path} -> {st} (Error schema)', errors)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('base', help='the node, e.g. http://127.0.0.1:8080')
    ap.add_argument('--doc', default=str(DOC), help='the OpenAPI document (default: docs/openapi.json)')
    args = ap.parse_args()
    c = Checker(args.base, json.loads(Path(args.doc).read_text()))
    run(c)
    print(f'{c.passed} passed, {c.failed} failed')
    return 1 if c.failed else 0


if __name__ == '__main__':
    sys.exit(main())
