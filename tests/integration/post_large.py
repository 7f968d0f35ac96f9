#!/usr/bin/python3
"""An 8 MiB POST /transactions with Python's http.client, which writes the
whole request before it reads: chaind must let it read the 413 too_large
JSON (issue 9.5), with and without Expect: 100-continue.
Usage: post_large.py PORT. Exit 0 when both read it; prints what went wrong."""
import http.client
import json
import sys

BODY = b"x" * (8 << 20)


def check(port, expect):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    if expect:
        # http.client does not wait for 100 Continue itself: send the head,
        # read the answer, never the body
        conn.putrequest("POST", "/transactions")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(BODY)))
        conn.putheader("Expect", "100-continue")
        conn.endheaders()
    else:
        conn.request("POST", "/transactions", body=BODY,
                     headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    if resp.status != 413 or data.get("error") != "too_large" or "message" not in data:
        raise SystemExit("expect=%s: got %d %r" % (expect, resp.status, data))


def main():
    port = int(sys.argv[1])
    for expect in (False, True):
        try:
            check(port, expect)
        except (OSError, ValueError) as exc:
            raise SystemExit("expect=%s: %s: %s" % (expect, type(exc).__name__, exc))
    print("ok")


main()
