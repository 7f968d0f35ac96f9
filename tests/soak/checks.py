"""The end-of-soak checks, each a (passed, message) pair.

(1) every acknowledged payment confirmed exactly once on every node, in the
    same block; (2) one tip everywhere; (3) equal UTXO digests (GET /utxo-set);
(4) each node's UTXO set equals a replay of its own main chain, read block by
    block in canonical encoding (GET /block/<height>?format=hex).
"""
import replay

PAGE = 100


class RouteMissing(Exception):
    pass


def main_chain(node):
    """The node's main chain from JSON pages of GET /block:
    [{"hash", "txids": [...], "inputs": {txid: ["txid:index", ...]}}] by height."""
    status, st = node.http.get("/status")
    if status != 200:
        raise RuntimeError(f"node{node.i}: GET /status answered {status}")
    tip = st["height"]
    blocks = [None] * (tip + 1)
    h = tip
    while h >= 0:
        status, page = node.http.get(f"/block?limit={PAGE}&from={h}")
        if status != 200 or not isinstance(page, list) or not page:
            raise RuntimeError(f"node{node.i}: GET /block?from={h} answered {status}")
        for b in page:
            height = b["header"]["height"]
            if height != h:
                raise RuntimeError(f"node{node.i}: /block?from= gave height {height}, {h} due")
            blocks[h] = {"hash": b["header"]["hash"],
                         "txids": [t["transaction_hash"] for t in b["transactions"]],
                         "inputs": {t["transaction_hash"]:
                                    [f"{i['transaction_hash']}:{i['output_index']}"
                                     for i in t["inputs"]] for t in b["transactions"]}}
            h -= 1
    return blocks


def tx_heights(chain):
    """txid -> the heights of the main-chain blocks that hold it (once each time)."""
    where = {}
    for h, b in enumerate(chain):
        for t in b["txids"]:
            where.setdefault(t, []).append(h)
    return where


def payment_status(node, chain, where, p):
    """(ok, what) for payment p on node: ok when confirmed exactly once on its main chain."""
    status, j = node.http.get(f"/transactions/{p.txid}")
    if status == 404:
        return False, "unknown"
    if status != 200 or not isinstance(j, dict):
        return False, f"GET /transactions answered {status}"
    if j.get("in_mempool"):
        return False, "in mempool"
    bh, height = j.get("block_hash"), j.get("height")
    if not isinstance(height, int) or height >= len(chain) or chain[height]["hash"] != bh:
        return False, f"says block {str(bh)[:16]} at height {height}, not on its main chain"
    seen = where.get(p.txid, [])
    if seen != [height]:
        return False, f"on the main chain at heights {seen}"
    return True, (bh, height)


def check_payments(nodes, chains, ledger):
    """(1): per payment, its status on every node; the failures as text."""
    bad = []
    results = {}
    wheres = {n.i: tx_heights(chains[n.i]) for n in nodes}
    for p in ledger:
        per_node = [payment_status(n, chains[n.i], wheres[n.i], p) for n in nodes]
        results[p.id] = per_node
        places = {w for ok, w in per_node if ok}
        if not all(ok for ok, _ in per_node) or len(places) != 1:
            bad.append(p)
    return results, bad


def check_tips(nodes):
    tips = {}
    for n in nodes:
        status, st = n.http.get("/status")
        tips[n.i] = (st["height"], st["tip"]) if status == 200 else (None, f"status {status}")
    ok = len(set(tips.values())) == 1
    text = ", ".join(f"node{i} {h}:{str(t)[:12]}" for i, (h, t) in tips.items())
    return ok, ("one tip: " if ok else "tips differ: ") + text


def utxo_sets(nodes):
    """GET /utxo-set of each node: {i: summary}, or RouteMissing."""
    sets = {}
    for n in nodes:
        status, j = n.http.get("/utxo-set")
        if status == 404 and isinstance(j, dict) and j.get("error") == "not_found":
            raise RouteMissing("route missing: GET /utxo-set answers 404 not_found")
        if status != 200 or not isinstance(j, dict):
            raise RuntimeError(f"node{n.i}: GET /utxo-set answered {status}: {j}")
        sets[n.i] = {k: j.get(k) for k in ("height", "tip", "count", "total", "digest")}
    return sets


def check_digests(sets):
    if isinstance(sets, Exception):
        return False, str(sets)
    ok = len({tuple(s.values()) for s in sets.values()}) == 1
    text = "; ".join(f"node{i} {s['count']} coins {s['digest'][:16]}" for i, s in sets.items())
    return ok, ("equal: " if ok else "differ: ") + text


def replay_node(node, tip_height):
    """Replays node's main chain from GET /block/<height>?format=hex."""
    u = replay.UtxoSet()
    for h in range(tip_height + 1):
        status, j = node.http.get(f"/block/{h}?format=hex")
        if status != 200 or not isinstance(j, dict):
            raise RuntimeError(f"node{node.i}: GET /block/{h}?format=hex answered {status}")
        if "hex" not in j:
            raise RouteMissing("route missing: GET /block/<height>?format=hex has no \"hex\"")
        block = replay.decode_block(bytes.fromhex(j["hex"]))
        if block["hash"].hex() != j.get("hash") or j.get("height") != h or not j.get("main_chain"):
            raise replay.BadBlock(f"node{node.i} height {h}: the answer's hash, height or "
                                  "main_chain does not fit the block")
        u.apply(block, h)
    return u.summary()


def check_replays(nodes, chains, sets):
    """(4): the replay of each node's chain against its /utxo-set."""
    lines, ok = [], True
    for n in nodes:
        try:
            mine = replay_node(n, len(chains[n.i]) - 1)
        except RouteMissing as e:
            return False, str(e)
        except (replay.BadBlock, RuntimeError, ValueError) as e:
            ok = False
            lines.append(f"node{n.i}: {e}")
            continue
        if isinstance(sets, Exception):
            ok = False
            lines.append(f"node{n.i} replayed {mine['count']} coins {mine['digest'][:16]}, "
                         f"nothing to compare with ({sets})")
        elif mine != sets[n.i]:
            ok = False
            lines.append(f"node{n.i}: replay {mine} but /utxo-set {sets[n.i]}")
        else:
            lines.append(f"node{n.i} {mine['count']} coins")
    return ok, ("equal to the replays: " if ok else "") + "; ".join(lines)
