#!/usr/bin/python3
"""Chaos soak: N nodes in a ring on regtest, random payments, random SIGKILLs
and partitions; at the end, every acknowledged payment must be confirmed
exactly once on every node, and the nodes must agree on one tip and one
UTXO set that a replay of each node's own chain reproduces.

usage: tests/soak/soak.py --build build-release [--nodes 4] [--miners 2]
                          [--minutes M | --seconds S] [--seed N] [--out DIR]

Everything (node data, each daemon's log, the harness's soak.log timeline)
stays in the output directory, whose path is printed. Exit status 0 when
nothing was lost and every check passed, 1 otherwise, 2 when the setup
failed, 130 on a signal. docs/RELIABILITY.md describes the rounds.
"""
import argparse
import os
import random
import signal
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import checks
import report
from cluster import Clock, Journal, Node
from faults import Faults
from traffic import COIN, Traffic, address_of, keygen

PAY_MEAN = 0.5        # seconds between payments, on average (exponential)
FUND = 2 * COIN       # each wallet's funding at setup
SETTLE = 3.0          # seconds of an unchanged split at equal heights before a tie-break payment


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="the build directory (build-release)")
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--miners", type=int, default=2, help="nodes that run minerd --threads 1")
    ap.add_argument("--wallets", type=int, default=16)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--minutes", type=float)
    g.add_argument("--seconds", type=float)
    ap.add_argument("--seed", type=int, help="default: drawn at random (and printed)")
    ap.add_argument("--converge-seconds", type=float, default=60.0,
                    help="bound on the wait for convergence at the end (default 60)")
    ap.add_argument("--out", help="output directory (default: a new /tmp/chain-soak-SEED-*)")
    ap.add_argument("--verbose", action="store_true", help="print the timeline as it happens")
    a = ap.parse_args(argv)
    a.duration = a.minutes * 60 if a.minutes is not None else (a.seconds or 60.0)
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "big")
    if a.nodes < 2 or not 1 <= a.miners <= a.nodes or a.wallets < 2 or a.duration <= 0:
        ap.error("needs --nodes >= 2, 1 <= --miners <= --nodes, --wallets >= 2, a positive time")
    if a.out and os.path.isdir(a.out) and os.listdir(a.out):
        ap.error(f"--out {a.out} is not empty: a soak writes a fresh directory")
    a.build = os.path.abspath(a.build)
    return a


class Soak:
    def __init__(self, args):
        self.args = args
        self.out = os.path.abspath(args.out) if args.out else \
            tempfile.mkdtemp(prefix=f"chain-soak-{args.seed}-", dir="/tmp")
        os.makedirs(self.out, exist_ok=True)
        self.clock = Clock()
        self.journal = Journal(os.path.join(self.out, "soak.log"), self.clock, args.verbose)
        n, m = args.nodes, args.miners
        self.miner_nodes = sorted({round(k * n / m) % n for k in range(m)})
        self.nodes = []
        self.traffic = self.faults = None
        self.phases = {}  # name -> (t0, t1)
        self.converged = None  # (ok, seconds, why)
        self.stops = {}  # daemon name -> exit status of the final SIGTERM (None: hung)

    # --- setup -------------------------------------------------------------

    def setup(self):
        a = self.args
        kd = os.path.join(self.out, "wallets")
        os.makedirs(kd, exist_ok=True)
        sink = keygen(a.build, os.path.join(kd, "miner.pem"), "miner")
        wallets = [keygen(a.build, os.path.join(kd, f"w{k}.pem"), f"w{k}")
                   for k in range(a.wallets)]
        self.nodes = [Node(i, a.build, self.out, self.clock,
                           sink.address if i in self.miner_nodes else None)
                      for i in range(a.nodes)]
        for nd in self.nodes:
            nd.start_chaind(self.ring_peers(nd.i))
        for nd in self.nodes:
            nd.daemons["gossipd"].start("setup")
        # one miner until the wallets are funded: two miners that each find
        # every block at once keep the nodes split on equal-work tips
        self.first_miner.start("setup")
        self.wait_peers()
        # one stream each, so that tie-breaks (as many as the world needs)
        # shift neither the payments nor their times
        empty = keygen(a.build, os.path.join(kd, "empty.pem"), "empty")
        self.traffic = Traffic(a.build, self.nodes, wallets, empty,
                               random.Random(f"{a.seed}/payments"), self.journal, self.clock)
        self.arrivals = random.Random(f"{a.seed}/arrivals")
        self.tie_rng = random.Random(f"{a.seed}/tie-breaks")
        self.faults = Faults(self.nodes, random.Random(f"{a.seed}/faults"), self.journal,
                             self.clock)
        self.fund()
        for d in self.other_miners:
            d.start("setup: racing miners")
        self.journal(f"setup: {len(self.other_miners) + 1} miners racing")

    @property
    def first_miner(self):
        return self.nodes[self.miner_nodes[0]].daemons["minerd"]

    @property
    def other_miners(self):
        return [self.nodes[i].daemons["minerd"] for i in self.miner_nodes[1:]]

    def ring_peers(self, i):
        n = len(self.nodes)
        return [self.nodes[k].p2p for k in sorted({(i - 1) % n, (i + 1) % n} - {i})]

    def wait_peers(self):
        want = min(2, len(self.nodes) - 1)
        deadline = self.clock.now() + 30
        while self.clock.now() < deadline:
            for nd in self.nodes:
                for d in nd.daemons.values():
                    if d.exited() is not None:
                        raise RuntimeError(f"{d.name} exited at start (see {d.log_path})")
            peers = [nd.http.get("/status")[1] or {} for nd in self.nodes]
            if all(isinstance(p, dict) and p.get("peers", 0) >= want for p in peers):
                return
            time.sleep(0.2)
        peers = [(nd.http.get("/status")[1] or {}).get("peers") for nd in self.nodes]
        raise RuntimeError("the ring did not form within 30 s: peers "
                           + ", ".join(f"node{i} {p}" for i, p in enumerate(peers)))

    def fund(self):
        """The demo users of the regtest genesis pay each wallet FUND at a
        miner's node, then the nodes settle on one chain."""
        t0 = self.clock.now()
        keys = os.path.join(ROOT, "deploy", "demo-keys")
        demo = [address_of(self.args.build, os.path.join(keys, f"{u}.pem"), u)
                for u in ("albert", "bertrand", "camille")]
        at = self.nodes[self.miner_nodes[0]]
        todo = list(self.traffic.wallets)
        deadline = t0 + 120
        while todo:
            if self.clock.now() > deadline:
                raise RuntimeError(f"funding stalled: {len(todo)} wallet(s) unfunded after 120 s")
            for d in demo:
                while todo and self.traffic.ready(at, d, FUND) is True:
                    if not self.traffic.send(at, d, todo[0], FUND, "setup"):
                        break
                    todo.pop(0)
            self.traffic.resolve_pending()
            time.sleep(0.2)
        ok, secs, why = self.settle(60)
        if not ok:
            raise RuntimeError(f"the nodes did not settle after funding: {why}")
        self.phases["setup"] = (t0, self.clock.now())

    # --- the soak ----------------------------------------------------------

    def soak(self):
        rng = self.arrivals
        t0 = self.clock.now()
        t_end = t0 + self.args.duration
        self.journal(f"soak: {self.args.duration:.0f} s of payments and faults")
        self.faults.begin(t0)
        next_pay = t0 + rng.expovariate(1 / PAY_MEAN)
        next_resolve = t0 + 1
        while (t := self.clock.now()) < t_end:
            self.faults.tick(t)
            if t >= next_pay:
                self.traffic.pay_random("soak")
                next_pay = max(next_pay + rng.expovariate(1 / PAY_MEAN), self.clock.now() - 1)
            self.traffic.probe_due(t)
            if t >= next_resolve:
                self.traffic.resolve_pending()
                self.traffic.sweep(t)
                next_resolve = t + 1
            wake = min(next_pay, self.faults.next_time(), t_end, t + 0.1)
            time.sleep(max(0.0, wake - self.clock.now()))
        self.faults.end(self.clock.now())
        self.phases["soak"] = (t0, self.clock.now())
        self.journal("soak: faults and payments stopped; waiting for convergence")

    def settle(self, timeout):
        """Waits until every node has the same tip and an empty mempool.
        Equal heights with different tips that stay so for SETTLE s are a
        tie between miners that found blocks at once (each node keeps the
        one it saw first): a tie-break payment settles it. (ok, seconds, why)."""
        t0 = self.clock.now()
        split_since, last = None, None
        while (t := self.clock.now()) - t0 < timeout:
            self.faults.tick(t)
            self.traffic.probe_due(t)
            self.traffic.resolve_pending()
            st = [nd.http.get("/status") for nd in self.nodes]
            if all(code == 200 and isinstance(j, dict) for code, j in st):
                view = [(j["height"], j["tip"], j["mempool_size"]) for _, j in st]
                tips = {v[1] for v in view}
                if len(tips) == 1 and all(v[2] == 0 for v in view):
                    return True, t - t0, ""
                # the miner mines only for a mempool: a still view is a tie or stuck
                tie = len(tips) > 1 and len({v[0] for v in view}) == 1
                if view != last or not tie:
                    split_since, last = (t if tie else None), view
                elif t - split_since >= SETTLE:
                    self.journal(f"tie at height {view[0][0]} between {len(tips)} tips: "
                                 "a tie-break payment")
                    self.traffic.pay_random("tie-break", self.tie_rng)
                    split_since = t
            time.sleep(0.5)
        why = "; ".join(f"node{nd.i} {self._brief(nd)}" for nd in self.nodes)
        return False, self.clock.now() - t0, why

    @staticmethod
    def _brief(nd):
        s, j = nd.http.get("/status")
        if s != 200:
            return f"/status answered {s}"
        return f"height {j['height']} tip {j['tip'][:12]} mempool {j['mempool_size']}"

    def converge(self):
        """One miner mines on while the nodes settle: racing miners that find
        each block at once would keep a tie between them forever."""
        for d in self.other_miners:
            self.stops[d.name] = d.stop()
        ok, secs, why = self.settle(self.args.converge_seconds)
        self.converged = (ok, secs, why)
        self.journal(f"converged in {secs:.1f} s" if ok else
                     f"NOT converged after {secs:.1f} s: {why}")
        self.stops[self.first_miner.name] = self.first_miner.stop()  # a still chain for the checks

    # --- end ---------------------------------------------------------------

    def check(self):
        chains, results, bad = {}, {}, []
        try:
            for nd in self.nodes:
                chains[nd.i] = checks.main_chain(nd)
            results, bad = checks.check_payments(self.nodes, chains, self.traffic.ledger)
            c1 = (not bad, f"{len(self.traffic.ledger) - len(bad)} of {len(self.traffic.ledger)} "
                           "confirmed exactly once, in one block, on every node")
        except RuntimeError as e:
            c1 = (False, f"cannot read the chains: {e}")
        c2 = checks.check_tips(self.nodes)
        try:
            sets = checks.utxo_sets(self.nodes)
        except (checks.RouteMissing, RuntimeError) as e:
            sets = e
        c3 = checks.check_digests(sets)
        c4 = checks.check_replays(self.nodes, chains, sets) if len(chains) == len(self.nodes) \
            else (False, "the chains could not be read")
        return {"chains": chains, "results": results, "bad": bad,
                "checks": [c1, c2, c3, c4]}

    def stop_all(self):
        """SIGTERM each daemon (they must exit 0 within 10 s)."""
        for nd in self.nodes:
            for kind in ("minerd", "gossipd", "chaind"):
                d = nd.daemons.get(kind)
                if d and d.name not in self.stops:
                    self.stops[d.name] = d.stop()

    def reap(self):
        for nd in self.nodes:
            for d in nd.daemons.values():
                d.reap()
            nd.http.close()


def main(argv):
    args = parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    s = Soak(args)
    print(f"chain soak: seed {args.seed}, {args.nodes} nodes (miners on "
          f"{', '.join(f'node{i}' for i in s.miner_nodes)}), {args.duration:.0f} s; "
          f"output in {s.out}", flush=True)
    rc = 2
    try:
        s.setup()
        s.soak()
        s.converge()
        result = s.check()
        s.stop_all()
        rc = report.show(s, result)
    except Interrupted as e:
        print(f"chain soak: interrupted by {e}; stopping every daemon", file=sys.stderr)
        rc = 130
    except RuntimeError as e:
        print(f"chain soak: failed: {e}", file=sys.stderr)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        s.reap()
        print(f"chain soak: seed {args.seed}; logs in {s.out}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
