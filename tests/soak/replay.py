"""Replays a chain into a UTXO set, independently of the node's C code.

Reads blocks in their canonical msgpack encoding (DESIGN §3.1, §3.4):
`[header: bin(88), [tx...]]`, tx = `[version, [[prev_txid bin32, index,
unlocking bin]...], [[amount, locking bin]...]]`. Each transaction's txid is
SHA256(SHA256()) of its exact bytes in the block, never of a re-encoding, and
the decoder refuses any form that is not the smallest, as chaind's does, so
that a block has one encoding.

The UTXO digest (the shape chaind's GET /utxo-set answers with): SHA-256 over
the coins in ascending order of (txid || index as 4 bytes big-endian), each
coin txid(32) || index(4, BE) || height(8, LE) || coinbase(1) ||
amount(8, LE) || script length(4, LE) || locking script. The coinbase flag is
1 for the outputs of a block's first transaction, except the genesis block's.
"""
import hashlib
import struct

HEADER_LEN = 88
NULL_TXID = bytes(32)
COINBASE_INDEX = 0xFFFFFFFF
# msgpack tags: (struct format of what follows, least value the form may carry)
UINT_FORMS = {0xCC: (">B", 0x80), 0xCD: (">H", 0x100), 0xCE: (">I", 0x10000),
              0xCF: (">Q", 0x100000000)}
BIN_FORMS = {0xC4: (">B", 0), 0xC5: (">H", 0x100), 0xC6: (">I", 0x10000)}
ARRAY_FORMS = {0xDC: (">H", 16), 0xDD: (">I", 0x10000)}


class BadBlock(Exception):
    """The bytes are not a canonical block, or the block does not fit the chain."""


def sha256d(data):
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


class Reader:
    """A strict reader of the canonical msgpack subset consensus objects use."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def _take(self, n):
        if n > len(self.data) - self.pos:
            raise BadBlock(f"truncated at byte {self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def _sized(self, fmt):
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def _head(self, what, forms, fix=None):
        """The value (an integer) or length (bin, array) a head byte starts:
        forms maps a tag to (struct format, least value it may carry); fix is
        (first tag, last tag, offset) of the one-byte forms."""
        at = self.pos
        b = self._take(1)[0]
        if fix and fix[0] <= b <= fix[1]:
            return b - fix[2]
        if b not in forms:
            raise BadBlock(f"byte {at}: 0x{b:02x} is not {what}")
        fmt, least = forms[b]
        v = self._sized(fmt)
        if v < least:
            raise BadBlock(f"byte {at}: {what} {v} not in its smallest form")
        return v

    def uint(self):
        return self._head("an unsigned integer", UINT_FORMS, (0x00, 0x7F, 0))

    def bin(self):
        return self._take(self._head("bin", BIN_FORMS))

    def array(self):
        return self._head("an array", ARRAY_FORMS, (0x90, 0x9F, 0x90))

    def fixed_array(self, n, what):
        got = self.array()
        if got != n:
            raise BadBlock(f"{what}: {got} elements, {n} due")


def read_tx(r):
    """One transaction: (txid, inputs [(prev_txid, index)], outputs [(amount, script)])."""
    start = r.pos
    r.fixed_array(3, "transaction")
    version = r.uint()
    if version != 1:
        raise BadBlock(f"transaction version {version}")
    inputs = []
    for _ in range(r.array()):
        r.fixed_array(3, "input")
        prev = r.bin()
        if len(prev) != 32:
            raise BadBlock(f"an input's prev_txid has {len(prev)} bytes")
        index = r.uint()
        r.bin()  # unlocking script: only the node checks scripts
        inputs.append((prev, index))
    outputs = []
    for _ in range(r.array()):
        r.fixed_array(2, "output")
        amount = r.uint()
        outputs.append((amount, r.bin()))
    return sha256d(r.data[start:r.pos]), inputs, outputs


def merkle_root(txids):
    row = list(txids)
    while len(row) > 1:
        if len(row) % 2:
            row.append(row[-1])
        row = [sha256d(row[i] + row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


def decode_block(data):
    """A block's hash, previous hash and transactions, from its canonical bytes."""
    r = Reader(data)
    r.fixed_array(2, "block")
    header = r.bin()
    if len(header) != HEADER_LEN:
        raise BadBlock(f"header of {len(header)} bytes")
    txs = [read_tx(r) for _ in range(r.array())]
    if r.pos != len(data):
        raise BadBlock(f"{len(data) - r.pos} trailing byte(s)")
    if not txs:
        raise BadBlock("no transactions")
    if merkle_root([t[0] for t in txs]) != header[36:68]:
        raise BadBlock("the merkle root does not match the transactions")
    return {"hash": sha256d(header), "previous": header[4:36], "txs": txs}


class UtxoSet:
    """Coins keyed by txid || index (4 bytes BE): (height, coinbase, amount, script)."""

    def __init__(self):
        self.coins = {}
        self.tip = None
        self.height = -1

    def apply(self, block, height):
        """Connects a decoded block at height onto the set's tip."""
        if height != self.height + 1:
            raise BadBlock(f"block at height {height} after height {self.height}")
        if self.tip is not None and block["previous"] != self.tip:
            raise BadBlock(f"block at height {height} does not build on the previous block")
        for i, (txid, inputs, outputs) in enumerate(block["txs"]):
            coinbase = i == 0
            if coinbase and (len(inputs) != 1 or inputs[0] != (NULL_TXID, COINBASE_INDEX)):
                raise BadBlock(f"height {height}: the first transaction is not a coinbase")
            for prev, index in ([] if coinbase else inputs):
                key = prev + struct.pack(">I", index)
                if self.coins.pop(key, None) is None:
                    raise BadBlock(f"height {height}: {txid.hex()} spends {prev.hex()}:{index}, "
                                   "which is not in the set")
            for j, (amount, script) in enumerate(outputs):
                key = txid + struct.pack(">I", j)
                if key in self.coins:
                    raise BadBlock(f"height {height}: output {txid.hex()}:{j} exists already")
                self.coins[key] = (height, 1 if coinbase and height > 0 else 0, amount, script)
        self.tip = block["hash"]
        self.height = height

    def summary(self):
        """{height, tip, count, total, digest}, as GET /utxo-set answers."""
        h = hashlib.sha256()
        total = 0
        for key in sorted(self.coins):
            height, coinbase, amount, script = self.coins[key]
            h.update(key + struct.pack("<QBQI", height, coinbase, amount, len(script)) + script)
            total += amount
        return {"height": self.height, "tip": self.tip.hex() if self.tip else None,
                "count": len(self.coins), "total": total, "digest": h.hexdigest()}
