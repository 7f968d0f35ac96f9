#!/usr/bin/python3
"""Tests of the soak's verdict and report (report.py) on a made-up round: no
daemon runs; the nodes, faults, ledger and end state are set by hand, so that
each kind of outcome (confirmed, lost, stuck in a mempool, superseded by a
payment that came back) must be told apart and must set the exit status.

usage: tests/soak/test_report.py
"""
import contextlib
import io
import os
import random
import shutil
import tempfile
import types
import unittest

import report
from cluster import Clock, Node
from faults import Fault, Faults
from traffic import Payment, Traffic, Wallet

TXID = "{:064x}".format


def block(h, txs):
    """A main-chain block as checks.main_chain() gives it; txs: {txid: [inputs]}."""
    return {"hash": f"{h:064x}", "txids": list(txs), "inputs": txs}


class Round:
    """A finished soak as report.show() reads it."""

    def __init__(self, out):
        self.out = out
        self.clock = Clock()
        self.args = types.SimpleNamespace(seed=7, nodes=2, duration=60.0)
        self.miner_nodes = [0]
        self.nodes = [Node(i, "/nonexistent", out, self.clock, "payout" if i == 0 else None)
                      for i in range(2)]
        for nd in self.nodes:
            nd.make_daemons([])
        self.wallets = [Wallet(f"w{k}", None, f"addr{k}") for k in range(3)]
        self.traffic = Traffic(None, self.nodes, self.wallets, None, random.Random(1),
                               lambda *a: None, self.clock)
        self.faults = Faults(self.nodes, random.Random(1), lambda *a: None, self.clock)
        self.phases = {"setup": (0.0, 5.0), "soak": (5.0, 65.0)}
        self.converged = (True, 2.0, "")
        self.stops = {"node0/chaind": 0}

    def pay(self, txid, node, t, inputs):
        w = self.wallets[len(self.traffic.ledger) % 3]
        p = Payment(len(self.traffic.ledger), "soak", txid, node, t, w, w, 1000)
        p.inputs = inputs
        p.seen = {0: "mempool", 1: "unknown"}
        self.traffic.ledger.append(p)
        return p

    def fault(self, kind, node, daemon, t0, t1):
        f = Fault(kind, self.nodes[node].daemons[daemon], t0)
        f.t1 = t1
        self.faults.log.append(f)


def confirmed(h):
    return (True, (f"{h:064x}", h))


def verdict(r, bad, per_node, chain, checks_ok=True):
    """report.show()'s exit status and report.txt."""
    ok = (checks_ok, "text")
    result = {"chains": {0: chain, 1: chain}, "bad": bad, "results": per_node,
              "checks": [(not bad, "text"), ok, ok, ok]}
    with contextlib.redirect_stdout(io.StringIO()):
        rc = report.show(r, result)
    with open(os.path.join(r.out, "report.txt"), encoding="utf-8") as f:
        return rc, f.read()


class Verdicts(unittest.TestCase):
    def setUp(self):
        self.out = tempfile.mkdtemp(prefix="chain-report-test-")
        self.r = Round(self.out)
        for k in range(8):  # the faults the schedule promises for 60 s
            self.r.fault("kill", k % 2, ("chaind", "gossipd")[k % 2], 6.0 + k, 6.5 + k)
        self.r.fault("kill", 0, "minerd", 20.0, 21.0)
        self.r.fault("kill", 1, "chaind", 22.0, 23.0)
        self.r.fault("partition", 1, "gossipd", 30.0, 40.0)

    def tearDown(self):
        shutil.rmtree(self.out, ignore_errors=True)

    def test_a_round_that_confirmed_everything_passes(self):
        p = self.r.pay(TXID(1), 0, 10.0, [f"{TXID(9)}:0"])
        chain = [block(0, {TXID(9): []}), block(1, {TXID(1): [f"{TXID(9)}:0"]})]
        rc, text = verdict(self.r, [], {p.id: [confirmed(1), confirmed(1)]}, chain)
        self.assertEqual(rc, 0, text)
        self.assertIn("1 acknowledged, 1 confirmed everywhere, 0 lost", text)
        self.assertIn("PASS: seed 7", text)

    def test_losses_are_told_apart_and_fail_the_round(self):
        self.r.fault("kill", 1, "chaind", 31.0, 32.0)
        gone = self.r.pay(TXID(2), 1, 30.5, [f"{TXID(9)}:1"])  # node1 cut off, then killed
        gone.seen = {0: "unknown", 1: "mempool"}
        gone.vanished = 40.0
        stuck = self.r.pay(TXID(3), 1, 35.0, [f"{TXID(9)}:2"])
        stuck.seen = {0: "unknown", 1: "mempool"}
        again = self.r.pay(TXID(4), 0, 45.0, [f"{TXID(9)}:1"])  # its coin, after it vanished
        chain = [block(0, {TXID(9): []}), block(1, {TXID(4): [f"{TXID(9)}:1"]})]
        per_node = {gone.id: [(False, "unknown")] * 2,
                    stuck.id: [(False, "unknown"), (False, "in mempool")],
                    again.id: [confirmed(1), confirmed(1)]}
        rc, text = verdict(self.r, [gone, stuck], per_node, chain)
        self.assertEqual(rc, 1)
        self.assertIn("2 lost (1 of them still in a mempool at the end)", text)
        self.assertIn("node1 took it while its gossipd was down (partition at t+30.0)", text)
        self.assertIn("SIGKILLed: node1 at t+31.0", text)
        self.assertIn("at the end only in the mempool of node1", text)
        self.assertIn("spent on the chain by payment #2, made after this one vanished", text)
        self.assertRegex(text, r"\(7\) no harness double spend +PASS")
        self.assertIn("FAIL: seed 7", text)

    def test_a_payment_that_lost_to_a_vanished_one_that_came_back_is_the_harness_s(self):
        first = self.r.pay(TXID(5), 0, 10.0, [f"{TXID(9)}:3"])
        first.vanished = 20.0
        second = self.r.pay(TXID(6), 1, 25.0, [f"{TXID(9)}:3"])
        chain = [block(0, {TXID(9): []}), block(1, {TXID(5): [f"{TXID(9)}:3"]})]
        per_node = {first.id: [confirmed(1), confirmed(1)],
                    second.id: [(False, "unknown")] * 2}
        rc, text = verdict(self.r, [second], per_node, chain)
        self.assertEqual(rc, 1)
        self.assertIn(f"SUPERSEDED #{second.id}", text)
        self.assertIn("0 lost (0 of them still in a mempool at the end), 0 confirmed on some", text)
        self.assertRegex(text, r"\(7\) no harness double spend +FAIL")

    def test_a_failed_check_fails_a_round_without_losses(self):
        p = self.r.pay(TXID(1), 0, 10.0, [f"{TXID(9)}:0"])
        chain = [block(0, {TXID(9): []}), block(1, {TXID(1): [f"{TXID(9)}:0"]})]
        rc, text = verdict(self.r, [], {p.id: [confirmed(1)] * 2}, chain, checks_ok=False)
        self.assertEqual(rc, 1)
        self.assertRegex(text, r"\(3\) equal UTXO digests +FAIL")


if __name__ == "__main__":
    unittest.main()
