#!/usr/bin/python3
"""Checks docs/openapi.json, offline:

- it is a valid OpenAPI 3.1 document (the OpenAPI Initiative's published
  schema, vendored beside this file as oas-3.1-schema.json);
- every Schema Object in it is valid JSON Schema 2020-12, and every $ref in
  it resolves;
- it describes every route of chaind/http.h's list, every route of the
  explorer's API contract (ROUTES below) and no other;
- its error codes are common/err.h's, each under the HTTP status err.h maps
  it to, and every operation documents its failures with the Error schema.

Run: tests/openapi/check_openapi.py [SOURCE_DIR]. Exit status 0 when all
hold; each failed check prints a line.
"""
import json
import re
import sys
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

HERE = Path(__file__).resolve().parent
SOURCE = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent

# The routes of the explorer's API contract (issue 13) and the explorer's
# own files; the rest come from chaind/http.h's route list.
ROUTES = {
    ('get', '/blocks'), ('get', '/block/*/txs'), ('get', '/address/*/txs'),
    ('get', '/mempool/histogram'), ('get', '/mempool/recent'), ('get', '/events'),
    ('get', '/utxo-set'), ('get', '/openapi.json'),
    ('get', '/'), ('get', '/index.html'), ('get', '/explorer/*'),
}
METHODS = {'get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'}

failures = []


def fail(msg):
    failures.append(msg)
    print(f'FAIL: {msg}')


def http_h_routes():
    """(method, path) of each route in http.h's comment, arguments as '*'."""
    text = (SOURCE / 'chaind/http.h').read_text()
    out = set()
    for method, path in re.findall(r'^ \*\s+(GET|POST)\s+(/\S*)', text, re.M):
        out.add((method.lower(), re.sub(r'<[^>]+>', '*', path.split('?')[0])))
    return out


def err_codes():
    """{code string: HTTP status} from common/err.h's table."""
    text = (SOURCE / 'common/err.h').read_text()
    return {s: int(st) for s, st in re.findall(r'X\(ERR_[A-Z_]+,\s*"([a-z_]+)",\s*(\d+)', text)}


def walk(node, path=()):
    """Every (json pointer parts, dict) in the document."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (str(i),))


def pointer(doc, ref):
    node = doc
    for part in ref.lstrip('#/').split('/'):
        part = part.replace('~1', '/').replace('~0', '~')
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def schemas_of(doc):
    """Every Schema Object's location: components' and each 'schema' field."""
    for name in doc['components']['schemas']:
        yield ('components', 'schemas', name), doc['components']['schemas'][name]
    for path, node in walk(doc['paths']):
        if isinstance(node.get('schema'), dict):
            yield ('paths',) + path + ('schema',), node['schema']


def check_meta(doc):
    meta = json.loads((HERE / 'oas-3.1-schema.json').read_text())
    for e in Draft202012Validator(meta).iter_errors(doc):
        fail(f'not OpenAPI 3.1 at /{"/".join(map(str, e.absolute_path))}: {e.message}')


def check_schemas(doc):
    for where, schema in schemas_of(doc):
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as e:
            fail(f'/{"/".join(where)} is not JSON Schema 2020-12: {e.message}')
    for where, node in walk(doc):
        ref = node.get('$ref')
        if isinstance(ref, str):
            try:
                pointer(doc, ref)
            except (KeyError, IndexError, ValueError):
                fail(f'/{"/".join(where)}: $ref {ref} resolves to nothing')


def check_routes(doc):
    documented = set()
    for path, item in doc['paths'].items():
        for method in METHODS & item.keys():
            documented.add((method, re.sub(r'\{[^}]+\}', '*', path)))
    wanted = http_h_routes() | ROUTES
    for method, path in sorted(wanted - documented):
        fail(f'{method.upper()} {path} is a route but not in the document')
    for method, path in sorted(documented - wanted):
        fail(f'{method.upper()} {path} is in the document but no route')
    if len(http_h_routes()) < 10:
        fail('chaind/http.h lists fewer than 10 routes: its comment format changed?')


def error_enum(doc, response):
    """The codes an error response admits (its allOf's enum)."""
    schema = response['content']['application/json']['schema']
    for part in schema.get('allOf', []):
        enum = part.get('properties', {}).get('error', {}).get('enum')
        if enum is not None:
            return set(enum)
    return None


def check_errors(doc):
    table = err_codes()
    want = [c for c in table if c != 'ok']
    if doc['components']['schemas']['ErrorCode']['enum'] != want:
        fail('ErrorCode differs from common/err.h\'s codes (all but "ok", in its order)')
    for name, resp in doc['components']['responses'].items():
        codes = error_enum(doc, resp)
        if codes is None:
            fail(f'response {name} does not restrict "error" to its status\'s codes')
            continue
        statuses = {table.get(c) for c in codes}
        if len(statuses) != 1 or None in statuses:
            fail(f'response {name} mixes statuses or unknown codes: {sorted(codes)}')
            continue
        status = statuses.pop()
        if codes != {c for c, s in table.items() if s == status and c != 'ok'}:
            fail(f'response {name}: its codes are not all of err.h\'s for {status}')
    for path, item in doc['paths'].items():
        for method in METHODS & item.keys():
            responses = item[method]['responses']
            for status, resp in responses.items():
                if int(status) < 400:
                    continue
                ref = resp.get('$ref', '')
                target = pointer(doc, ref) if ref else resp
                codes = error_enum(doc, target) if 'content' in target else None
                if codes is None:
                    fail(f'{method.upper()} {path} {status} is not an Error answer')
                elif {table[c] for c in codes} != {int(status)}:
                    fail(f'{method.upper()} {path} {status}: its codes answer another status')


def main():
    doc = json.loads((SOURCE / 'docs/openapi.json').read_text())
    passed = failed = 0
    for check in (check_meta, check_schemas, check_routes, check_errors):
        before = len(failures)
        check(doc)
        ok = len(failures) == before
        print(f'{"ok" if ok else "FAILED"}: {check.__name__}')
        passed, failed = passed + ok, failed + (not ok)
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
