"""Payments of a soak: wallets made with `chain-cli keygen`, paid with `chain-cli send`.

A payment is acknowledged when chain-cli says the node took it (HTTP 200);
its txid, node and time go to the ledger. Anything else is a refusal, counted
by reason. The harness must never make two acknowledged payments spend one
coin (one of them could then never confirm, and a loss would be the
harness's), yet chain-cli picks the coins itself. So before a wallet pays
through a node, the harness asks that node which of the wallet's coins it
offers (confirmed, not spent in its mempool) and goes ahead only when none
of them is a coin an earlier payment spent: chain-cli picks among those.
After an acknowledgement the harness reads which coins the payment spent.
A send that may or may not have reached the node (the connection broke after
the request went out) leaves its wallet retired: its coins are unknown.

A lost payment would keep its wallet from paying for good (its coins stay
unspent, and the harness will not respend them). When every node answers,
twice VANISH_AFTER s apart, that it does not know a payment that blocks a
wallet, no node holds it any more: the payment is marked vanished (the
report says when) and its coins are free again.
"""
import json
import os
import re

from cluster import run_child

COIN = 100_000_000
FEE_ALLOWANCE = 50_000  # units beyond the amount a wallet must hold: a few inputs' fees
PROBE_AFTER = 2.0  # seconds after an acknowledgement, every node is asked whether it knows it
VANISH_AFTER = 5.0  # seconds between the two all-nodes-unknown answers that mark a payment gone


class Wallet:
    def __init__(self, name, pem, address):
        self.name, self.pem, self.address = name, pem, address
        self.retired = None      # why it pays no more
        self.unresolved = None   # an acknowledged payment whose inputs are not known yet
        self.blocked_by = set()  # ids of payments spending coins a node still offers


class Payment:
    def __init__(self, pid, phase, txid, node, t, wallet, to, amount):
        self.id, self.phase, self.txid, self.node, self.t = pid, phase, txid, node, t
        self.wallet, self.to, self.amount = wallet, to, amount
        self.inputs = None  # ["txid:index", ...] once read from a node
        self.conflicts = []  # ids of other payments that spend one of its inputs
        self.seen = None  # {node: "mempool"|"confirmed"|"unknown"|"down"} PROBE_AFTER s later
        self.unknown_since = None  # when every node first said it does not know it
        self.vanished = None  # when the harness saw it gone from every node and freed its coins


def cli_base(build):
    return [os.path.join(build, "cli", "chain-cli"), "--network", "regtest"]


def keygen(build, path, name):
    rc, out, err = run_child(cli_base(build) + ["--json", "keygen", "--out", path], 10)
    if rc != 0:
        raise RuntimeError(f"chain-cli keygen failed: {err.strip()}")
    return Wallet(name, path, json.loads(out)["address"])


def address_of(build, pem, name):
    rc, out, err = run_child(cli_base(build) + ["--json", "address", pem], 10)
    if rc != 0:
        raise RuntimeError(f"chain-cli address {pem} failed: {err.strip()}")
    return Wallet(name, pem, json.loads(out)["address"])


def classify(rc, out, err):
    """chain-cli's outcome: ("ack", txid), ("refused", reason) or ("ambiguous", reason)."""
    m = re.search(r"^transaction: ([0-9a-f]{64})$", out, re.M)
    if rc == 0 and m:
        return "ack", m.group(1)
    if rc is None:
        return "ambiguous", "chain-cli timed out"
    posted = "the transaction was not accepted" in err
    m = re.search(r"the node answered (\d+) (\S+):", err)
    if m:
        # 500 may come after the node took the transaction; other answers change nothing
        return ("ambiguous" if m.group(1) == "500" else "refused"), f"{m.group(1)} {m.group(2)}"
    m = re.search(r"cannot reach the node at \S+: (.*?) \(is chaind", err)
    if m:
        if not posted or "Couldn't connect" in m.group(1):
            return "refused", "node down"
        return "ambiguous", f"no answer ({m.group(1)})"
    first = err.strip().splitlines()[0] if err.strip() else f"exit {rc}"
    return "refused", re.sub(r"\d[\d.]*", "N", first.replace("chain-cli send: ", ""))[:80]


class Traffic:
    """The ledger and the payment maker."""

    def __init__(self, build, nodes, wallets, empty, rng, journal, clock):
        self.build, self.nodes, self.wallets, self.empty = build, nodes, wallets, empty
        self.rng, self.journal, self.clock = rng, journal, clock
        self.ledger = []
        self.refused = {}      # reason -> count
        self.ambiguous = []    # (t, node, wallet, reason)
        self.spent = {}        # "txid:index" -> payment id
        self.probes = []       # [due, Payment], in order of due
        self.attempts = 0
        self.not_ready = 0     # payment draws for which no wallet was ready at the node

    def offered(self, node, wallet):
        """The wallet's coins the node offers (confirmed, unspent in its mempool):
        [("txid:index", amount)], or None when the node does not answer."""
        status, j = node.http.get(f"/utxo/{wallet.address}")
        if status != 200 or not isinstance(j, dict):
            return None
        return [(f"{u['transaction_hash']}:{u['output_index']}", u["amount"])
                for u in j.get("utxos", []) if not u.get("spent_in_mempool")]

    def ready(self, node, wallet, amount):
        """True when a send from wallet through node cannot respend a coin;
        "down" when the node does not answer."""
        if wallet.retired or wallet.unresolved:
            return False
        coins = self.offered(node, wallet)
        if coins is None:
            return "down"
        blocking = {self.spent[c] for c, _ in coins if c in self.spent}
        wallet.blocked_by |= blocking
        return sum(a for _, a in coins) >= amount + FEE_ALLOWANCE and not blocking

    def pay_random(self, phase, rng=None):
        """One payment: a random node, the first ready wallet in a random order."""
        rng = rng or self.rng
        x = rng.randrange(len(self.nodes))
        order = rng.sample(self.wallets, len(self.wallets))
        amount = rng.randint(COIN // 1000, COIN // 100)
        node = self.nodes[x]
        for k, w in enumerate(order):
            r = self.ready(node, w, amount)
            if r == "down":
                # chain-cli says how the node is down; from a wallet without
                # coins, in case the node is back by then
                return self.send(node, self.empty, w, amount, phase)
            if r:
                return self.send(node, w, order[(k + 1) % len(order)], amount, phase)
        self.not_ready += 1
        return None

    def send(self, node, wallet, to, amount, phase):
        """chain-cli send; the Payment when acknowledged, else None."""
        self.attempts += 1
        coins = f"{amount // COIN}.{amount % COIN:08d}"
        argv = cli_base(self.build) + ["--node", node.url, "send", "--from", wallet.pem,
                                       "--to", to.address, "--amount", coins]
        rc, out, err = run_child(argv, 20)
        t = self.clock.now()
        verdict, what = classify(rc, out, err)
        if wallet is self.empty and verdict == "refused" and what != "node down":
            what = "node down (back up by the send)"
        if verdict != "ack":
            self.refused[what] = self.refused.get(what, 0) + 1
            self.journal(f"refused node{node.i} {wallet.name}->{to.name} {coins}: {what}", t)
            if verdict == "ambiguous":
                wallet.retired = f"an ambiguous answer from node{node.i} at t+{t:.1f}: {what}"
                self.ambiguous.append((t, node.i, wallet.name, what))
                self.journal(f"retired {wallet.name}: {wallet.retired}", t)
            return None
        p = Payment(len(self.ledger), phase, what, node.i, t, wallet, to, amount)
        self.ledger.append(p)
        self.journal(f"ack #{p.id} {phase} {p.txid} node{node.i} {wallet.name}->{to.name} "
                     f"{coins}", t)
        wallet.unresolved = p
        self.resolve(p, [node])
        self.probes.append([t + PROBE_AFTER, p])
        return p

    def probe_due(self, t):
        """Whether each node knows the payments acknowledged PROBE_AFTER s ago:
        tells a payment that was never relayed from one that was and went."""
        while self.probes and self.probes[0][0] <= t:
            p = self.probes.pop(0)[1]
            p.seen = {}
            for n in self.nodes:
                status, j = n.http.get(f"/transactions/{p.txid}")
                p.seen[n.i] = ("unknown" if status == 404 else "down" if status == 0 else
                               "mempool" if status == 200 and isinstance(j, dict) and
                               j.get("in_mempool") else
                               "confirmed" if status == 200 else f"status {status}")

    def resolve(self, p, nodes):
        """Reads the coins p spent from the first of nodes that knows p."""
        for n in nodes:
            status, j = n.http.get(f"/transactions/{p.txid}")
            if status == 200 and isinstance(j, dict) and "inputs" in j:
                p.inputs = [f"{i['transaction_hash']}:{i['output_index']}" for i in j["inputs"]]
                for c in p.inputs:
                    other = self.spent.get(c)
                    if other is not None and other != p.id:
                        p.conflicts.append(other)
                        self.ledger[other].conflicts.append(p.id)
                        self.journal(f"CONFLICT: #{p.id} and #{other} both spend {c}")
                    self.spent[c] = p.id
                p.wallet.unresolved = None
                return True
        return False

    def resolve_pending(self):
        for w in self.wallets:
            if w.unresolved:
                self.resolve(w.unresolved, self.nodes)

    def sweep(self, t):
        """Frees the coins of blocking payments that no node knows any more
        (and the wallets of payments whose coins were never read)."""
        for w in self.wallets:
            for pid in sorted(w.blocked_by | ({w.unresolved.id} if w.unresolved else set())):
                p = self.ledger[pid]
                answers = [n.http.get(f"/transactions/{p.txid}")[0] for n in self.nodes]
                if p.vanished is not None or any(a != 404 for a in answers):
                    p.unknown_since = None
                    w.blocked_by.discard(pid)  # asked again when a node offers its coins
                elif p.unknown_since is None:
                    p.unknown_since = t
                elif t - p.unknown_since >= VANISH_AFTER:
                    p.vanished = t
                    w.blocked_by.discard(pid)
                    if w.unresolved is p:
                        w.unresolved = None
                    for c in p.inputs or []:
                        if self.spent.get(c) == pid:
                            del self.spent[c]
                    self.journal(f"vanished #{pid} {p.txid}: no node knows it; its coins are "
                                 "free again", t)
