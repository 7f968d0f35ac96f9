#!/usr/bin/python3
"""Tests of replay.py, the soak's independent UTXO recomputation.

Offline: blocks built here by an encoder written from DESIGN §3 (not from
replay.py) decode to the right hashes and coins, the digest has the layout
the soak's check (4) states, and every non-canonical form is refused.

Against a real chaind (given a build directory): each block of a short
regtest chain is rebuilt here from the node's JSON (GET /block/<height>);
its hash and txids must be the node's, and the replay of those bytes must
hold exactly the coins the node lists for every address (GET /utxo/<pkh>),
heights and coinbase flags included. Where chaind serves
GET /block/<height>?format=hex and GET /utxo-set, the bytes and the digest
must match those too.

usage: tests/soak/test_replay.py [BUILD_DIR]
"""
import hashlib
import os
import shutil
import struct
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import replay
from cluster import Clock, Node, run_child
from traffic import cli_base, keygen

BUILD = None
OPS = {"OP_DUP": 0x76, "OP_HASH160": 0xA9, "OP_EQUALVERIFY": 0x88, "OP_EQUAL_VERIFY": 0x88,
       "OP_CHECKSIG": 0xAC, "OP_EQUAL": 0x87, "OP_RETURN": 0x6A}


# --- an encoder written from the design, for the tests only ------------------

def e_uint(v):
    if v < 0x80:
        return bytes([v])
    for tag, fmt, top in ((0xCC, ">B", 0xFF), (0xCD, ">H", 0xFFFF), (0xCE, ">I", 0xFFFFFFFF)):
        if v <= top:
            return bytes([tag]) + struct.pack(fmt, v)
    return b"\xcf" + struct.pack(">Q", v)


def e_bin(b):
    if len(b) < 0x100:
        return bytes([0xC4, len(b)]) + b
    if len(b) < 0x10000:
        return b"\xc5" + struct.pack(">H", len(b)) + b
    return b"\xc6" + struct.pack(">I", len(b)) + b


def e_arr(items):
    n = len(items)
    head = bytes([0x90 + n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
    return head + b"".join(items)


def e_tx(inputs, outputs):
    return e_arr([e_uint(1), e_arr([e_arr([e_bin(p), e_uint(i), e_bin(u)]) for p, i, u in inputs]),
                  e_arr([e_arr([e_uint(a), e_bin(s)]) for a, s in outputs])])


def d256(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def root(txids):
    row = list(txids)
    while len(row) > 1:
        row = row + [row[-1]] if len(row) % 2 else row
        row = [d256(row[i] + row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


def e_block(prev, txs, timestamp=1320365123, bits=0x207FFFFF, nonce=0):
    header = (struct.pack("<I", 1) + prev + root([d256(t) for t in txs])
              + struct.pack("<QIQ", timestamp, bits, nonce))
    return e_arr([e_bin(header), e_arr(txs)])


def p2pkh(pkh):
    return bytes([0x76, 0xA9, 0x14]) + pkh + bytes([0x88, 0xAC])


def coinbase(height, outputs):
    return e_tx([(bytes(32), 0xFFFFFFFF, b"\x08" + struct.pack("<Q", height))], outputs)


def coin_record(txid, index, height, cb, amount, script):
    """The digest's record, spelled out as check (4) states it."""
    return (txid + index.to_bytes(4, "big") + height.to_bytes(8, "little") + bytes([cb])
            + amount.to_bytes(8, "little") + len(script).to_bytes(4, "little") + script)


class Offline(unittest.TestCase):
    def chain(self):
        a, b = p2pkh(b"\x11" * 20), p2pkh(b"\x22" * 20)
        g_tx = coinbase(0, [(4000, a), (3000, b)])
        g = e_block(bytes(32), [g_tx])
        g_id = d256(g_tx)
        cb1 = coinbase(1, [(625, a)])
        spend = e_tx([(g_id, 1, b"\x01\x01")], [(1000, a), (1990, b)])
        b1 = e_block(d256(g[3:91]), [cb1, spend], timestamp=1320365200)
        return g, b1, g_id, d256(cb1), d256(spend), a, b

    def test_blocks_decode_to_their_hashes_and_txids(self):
        g, b1, g_id, cb_id, sp_id, _, _ = self.chain()
        dg, d1 = replay.decode_block(g), replay.decode_block(b1)
        self.assertEqual(dg["hash"], d256(g[3:91]))
        self.assertEqual([t[0] for t in dg["txs"]], [g_id])
        self.assertEqual([t[0] for t in d1["txs"]], [cb_id, sp_id])
        self.assertEqual(d1["previous"], dg["hash"])

    def test_digest_has_the_stated_layout(self):
        g, b1, g_id, cb_id, sp_id, a, b = self.chain()
        u = replay.UtxoSet()
        u.apply(replay.decode_block(g), 0)
        u.apply(replay.decode_block(b1), 1)
        coins = sorted([coin_record(g_id, 0, 0, 0, 4000, a), coin_record(cb_id, 0, 1, 1, 625, a),
                        coin_record(sp_id, 0, 1, 0, 1000, a), coin_record(sp_id, 1, 1, 0, 1990, b)])
        want = hashlib.sha256(b"".join(coins)).hexdigest()
        got = u.summary()
        self.assertEqual(got["digest"], want)
        self.assertEqual((got["count"], got["total"], got["height"]), (4, 7615, 1))
        self.assertEqual(got["tip"], d256(b1[3:91]).hex())

    def test_a_spend_of_a_missing_coin_or_a_foreign_block_is_refused(self):
        g, b1, g_id, _, _, a, _ = self.chain()
        u = replay.UtxoSet()
        u.apply(replay.decode_block(g), 0)
        bad = e_block(d256(g[3:91]), [coinbase(1, [(1, a)]), e_tx([(g_id, 7, b"")], [(1, a)])])
        with self.assertRaisesRegex(replay.BadBlock, "not in the set"):
            u.apply(replay.decode_block(bad), 1)
        u = replay.UtxoSet()
        u.apply(replay.decode_block(g), 0)
        other = e_block(b"\x01" * 32, [coinbase(1, [(1, a)])])
        with self.assertRaisesRegex(replay.BadBlock, "does not build"):
            u.apply(replay.decode_block(other), 1)

    def test_non_canonical_forms_are_refused(self):
        g = self.chain()[0]
        header = g[3:91]
        tx = g[92:]
        loose_tx = b"\x93\xcc\x01" + tx[2:]  # the version as a uint8: its merkle root fits
        cases = {
            "smallest form": [e_block(bytes(32), [loose_tx]),
                              e_arr([b"\xc5\x00\x58" + header, e_arr([tx])]),  # bin16, 88 bytes
                              b"\xdc\x00\x02" + g[1:]],  # array16 for 2 elements
            "is not bin": [e_arr([b"\xd9\x58" + header, e_arr([tx])])],  # str8
            "trailing": [g + b"\x00"],
            "merkle": [g[:40] + bytes([g[40] ^ 1]) + g[41:]],
        }
        for why, blocks in cases.items():
            for data in blocks:
                with self.subTest(why), self.assertRaisesRegex(replay.BadBlock, why):
                    replay.decode_block(data)


# --- against a real chaind -----------------------------------------------------

def script_of(asm):
    out = b""
    for tok in asm.split():
        if tok in OPS:
            out += bytes([OPS[tok]])
            continue
        data = bytes.fromhex(tok)
        out += (bytes([len(data)]) if len(data) < 0x4C else bytes([0x4C, len(data)])) + data
    return out


def rebuild(j):
    """A block's canonical bytes from the node's JSON of it."""
    h = j["header"]
    header = (struct.pack("<I", h["version"]) + bytes.fromhex(h["previous_block_hash"])
              + bytes.fromhex(h["merkle_root"])
              + struct.pack("<QIQ", h["timestamp"], h["bits"], int(h["nonce"], 16)))
    txs = [e_tx([(bytes.fromhex(i["transaction_hash"]), i["output_index"],
                  script_of(i["unlocking_script"])) for i in t["inputs"]],
                [(o["amount"], script_of(o["locking_script"])) for o in t["outputs"]])
           for t in j["transactions"]]
    return e_arr([e_bin(header), e_arr(txs)]), txs


class Live(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BUILD:
            raise unittest.SkipTest("no build directory given")
        cls.out = tempfile.mkdtemp(prefix="chain-replay-test-")
        miner = keygen(BUILD, os.path.join(cls.out, "miner.pem"), "miner")
        cls.user = keygen(BUILD, os.path.join(cls.out, "user.pem"), "user")
        cls.node = Node(0, BUILD, cls.out, Clock(), miner.address)
        cls.node.start_chaind([])
        cls.node.daemons["minerd"].start("test")
        cls.make_chain()

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "node", None):
            for d in cls.node.daemons.values():
                d.reap()
        shutil.rmtree(cls.out, ignore_errors=True)

    @classmethod
    def make_chain(cls):
        """A few blocks: payments from the genesis users, one of them spending
        the change of an earlier one."""
        demo = os.path.join(ROOT, "deploy", "demo-keys")
        for rnd in range(3):
            for who in ("albert", "bertrand", "camille"):
                rc, _, err = run_child(cli_base(BUILD) + [
                    "--node", cls.node.url, "send", "--from", os.path.join(demo, f"{who}.pem"),
                    "--to", cls.user.address, "--amount", f"0.{rnd + 1}"], 10)
                if rc != 0:
                    raise RuntimeError(f"chain-cli send: {err}")
            start = time.monotonic()
            while cls.node.http.get("/status")[1]["mempool_size"]:
                if time.monotonic() - start > 20:
                    raise RuntimeError("the miner did not mine within 20 s")
                time.sleep(0.1)

    def test_replay_of_the_nodes_chain_holds_the_nodes_coins(self):
        st = self.node.http.get("/status")[1]
        self.assertGreaterEqual(st["height"], 3)
        u = replay.UtxoSet()
        for h in range(st["height"] + 1):
            status, j = self.node.http.get(f"/block/{h}")
            self.assertEqual(status, 200)
            data, txs = rebuild(j)
            self.assertEqual(d256(data[3:91]).hex(), j["header"]["hash"])
            self.assertEqual([d256(t).hex() for t in txs],
                             [t["transaction_hash"] for t in j["transactions"]])
            status, hx = self.node.http.get(f"/block/{h}?format=hex")
            if status == 200 and "hex" in hx:
                self.assertEqual(hx["hex"], data.hex(), f"height {h}")
            u.apply(replay.decode_block(data), h)
        self.assertEqual(u.tip.hex(), st["tip"])
        mine = {}
        for key, (height, cb, amount, script) in u.coins.items():
            self.assertEqual(len(script), 25, "only P2PKH outputs on this chain")
            mine.setdefault(script[3:23].hex(), set()).add(
                (key[:32].hex(), int.from_bytes(key[32:], "big"), amount, height, bool(cb)))
        for pkh, coins in mine.items():
            status, j = self.node.http.get(f"/utxo/{pkh}")
            self.assertEqual(status, 200)
            theirs = {(c["transaction_hash"], c["output_index"], c["amount"], c["height"],
                       bool(c.get("coinbase"))) for c in j["utxos"]}
            self.assertEqual(coins, theirs, f"the coins of {pkh}")
        status, j = self.node.http.get("/utxo-set")
        if status == 200:
            self.assertEqual({k: j.get(k) for k in u.summary()}, u.summary())


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main()
