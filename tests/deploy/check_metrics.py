#!/usr/bin/python3
"""Scrapes the three daemons' /metrics with Prometheus's own parser.

Starts chaind, gossipd and minerd on regtest (loopback, free ports, one
mining thread), waits for each /metrics to answer, parses every text with
prometheus_client.parser.text_string_to_metric_families, checks the families
each daemon must export, and checks that every metric deploy/grafana/chain.json
queries is one some daemon exports.

usage: check_metrics.py BUILD_DIR
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEADLINE_S = 60  # generous: a sanitizer build starts slowly
EXPECTED = {
    "chaind": {"chain_height", "chain_http_requests", "chain_http_request_duration_seconds",
               "chain_block_connect_seconds"},
    "gossipd": {"gossip_peers", "gossip_bans", "gossip_messages", "gossip_message_bytes",
                "gossip_sync_height", "gossip_sync_lag_blocks", "gossip_relay_latency_seconds"},
    "minerd": {"miner_jobs_received", "miner_blocks_found", "miner_blocks_accepted",
               "miner_blocks_rejected", "miner_hashes", "miner_thread_hashrate",
               "miner_job_switch_seconds"},
}
PAYOUT = "00" * 20  # a pubkey hash: regtest needs one, nothing spends it


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url, procs):
    end = time.monotonic() + DEADLINE_S
    while True:
        for name, p in procs.items():
            if p.poll() is not None:
                sys.exit(f"{name} exited ({p.returncode}) before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read().decode()
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > end:
                sys.exit(f"{url} did not answer within {DEADLINE_S} s")
            time.sleep(0.2)


def wait_for(path, procs):
    end = time.monotonic() + DEADLINE_S
    while not os.path.exists(path):
        if procs["chaind"].poll() is not None or time.monotonic() > end:
            sys.exit(f"chaind made no {path}")
        time.sleep(0.1)


def start(build, work):
    procs = {}
    ports = {k: free_port() for k in ("http", "rpc", "events", "p2p", "gm", "mm")}
    rpc, events = f"tcp://127.0.0.1:{ports['rpc']}", f"tcp://127.0.0.1:{ports['events']}"
    log = open(os.path.join(work, "daemons.log"), "w")
    procs["chaind"] = subprocess.Popen(
        [f"{build}/chaind/chaind", "--network", "regtest", "--datadir", f"{work}/chaind",
         "--http", f"127.0.0.1:{ports['http']}", "--rpc", rpc, "--events", events],
        stdout=log, stderr=log)
    keys = f"{work}/chaind/rpc"
    wait_for(f"{keys}/miner.key", procs)
    wait_for(f"{keys}/gossip.key", procs)
    procs["gossipd"] = subprocess.Popen(
        [f"{build}/gossipd/gossipd", "--network", "regtest", "--datadir", f"{work}/gossipd",
         "--listen", f"127.0.0.1:{ports['p2p']}", "--rpc", rpc, "--events", events,
         "--rpc-key", f"{keys}/gossip.key", "--metrics", f"127.0.0.1:{ports['gm']}"],
        stdout=log, stderr=log)
    procs["minerd"] = subprocess.Popen(
        [f"{build}/minerd/minerd", "--network", "regtest", "--threads", "1", "--payout", PAYOUT,
         "--rpc", rpc, "--events", events, "--rpc-key", f"{keys}/miner.key",
         "--metrics", f"127.0.0.1:{ports['mm']}"], stdout=log, stderr=log)
    urls = {"chaind": f"http://127.0.0.1:{ports['http']}/metrics",
            "gossipd": f"http://127.0.0.1:{ports['gm']}/metrics",
            "minerd": f"http://127.0.0.1:{ports['mm']}/metrics"}
    return procs, urls


def check_other_paths(url):
    """gossipd's and minerd's servers answer only /metrics: others are 404 JSON."""
    try:
        urllib.request.urlopen(url.replace("/metrics", "/nope"), timeout=5)
        return f"{url}: /nope answered 2xx"
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        if e.code != 404 or body.get("error") != "not_found":
            return f"{url}: /nope gave {e.code} {body}"
    return None


def dashboard_metrics():
    with open(os.path.join(ROOT, "deploy/grafana/chain.json")) as f:
        board = json.load(f)
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    names = set()
    for e in exprs:
        names |= set(re.findall(r"\b((?:chain|gossip|miner)_[a-z0-9_]+)", e))
    return names, len(exprs)


def main():
    build = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="check_metrics.")
    procs, urls = start(build, work)
    errors, exported = [], set()
    try:
        # a request completed, so chaind's route histogram has a series
        scrape(urls["chaind"].replace("/metrics", "/status"), procs)
        for name, url in urls.items():
            families = list(text_string_to_metric_families(scrape(url, procs)))
            got = {f.name for f in families}
            for f in families:
                exported |= {s.name for s in f.samples}
            missing = EXPECTED[name] - got
            if missing:
                errors.append(f"{name}: missing {sorted(missing)}")
            if name != "chaind":
                err = check_other_paths(url)
                if err:
                    errors.append(err)
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            p.wait(timeout=30)
    names, n_exprs = dashboard_metrics()
    for n in sorted(names - exported):
        errors.append(f"deploy/grafana/chain.json queries {n}, which no daemon exports")
    if n_exprs == 0:
        errors.append("deploy/grafana/chain.json has no queries")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print(f"daemon logs kept in {work}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print(f"ok: 3 daemons scraped, {len(exported)} series names, {n_exprs} dashboard queries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
