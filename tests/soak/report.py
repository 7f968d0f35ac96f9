"""The soak's report: a table of what happened and the checks, then every
lost payment with the faults and node log lines around it. Also written to
report.txt in the output directory."""
import calendar
import os
import re
import time

from traffic import COIN, PROBE_AFTER as PROBE

REORG = re.compile(r"reorganisation: (\d+) block\(s\) off, (\d+) on, fork at height (\d+)")
READMIT = re.compile(r"reorganisation: (\d+) transaction\(s\) back in the mempool, (\d+) already "
                     r"confirmed, (\d+) parked, (\d+) dropped")
UNCONFIRMED = re.compile(r"reorganisation: (\d+) mempool transaction\(s\) spent coins no longer")
BAN = re.compile(r"banning peer")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)Z ")
DROPS = re.compile(r"[1-9]\d* dropped|[1-9]\d* mempool transaction\(s\) spent coins no longer")
NOTABLE = re.compile(r"reorganisation|mempool|chain loaded|starting|connected|invalid|ERROR|WARN|"
                     r"error|banning")


def coins(units):
    return f"{units / COIN:.8f}".rstrip("0").rstrip(".")


def log_of(nd, kind):
    d = nd.daemons.get(kind)
    if not d or not os.path.exists(d.log_path):
        return []
    with open(d.log_path, encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


def log_stats(nodes):
    """Reorganisations (count, deepest), transactions they dropped, peer bans."""
    st = {"reorgs": 0, "deepest": 0, "back": 0, "known": 0, "parked": 0, "dropped": 0,
          "unconfirmed": 0, "bans": 0, "per_node": {}}
    for nd in nodes:
        lines = log_of(nd, "chaind")
        r = [int(m.group(1)) for m in map(REORG.search, lines) if m]
        st["per_node"][nd.i] = len(r)
        st["reorgs"] += len(r)
        st["deepest"] = max([st["deepest"]] + r)
        for m in filter(None, map(READMIT.search, lines)):
            for k, key in enumerate(("back", "known", "parked", "dropped")):
                st[key] += int(m.group(k + 1))
        st["unconfirmed"] += sum(int(m.group(1)) for m in map(UNCONFIRMED.search, lines) if m)
        st["bans"] += sum(1 for line in log_of(nd, "gossipd") if BAN.search(line))
    return st


def log_window(nd, kind, w0, w1):
    """The notable lines of a daemon's log between wall times w0 and w1."""
    out = []
    for line in log_of(nd, kind):
        m = STAMP.match(line)
        if m and NOTABLE.search(line):
            w = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
            if w0 - 1 <= w <= w1:
                out.append(line)
    return out


def fault_checks(s):
    """(0): the faults the schedule promises happened."""
    f, dur = s.faults, s.args.duration
    kills = f.count("kill")
    want = int(dur // 6)
    kinds = {k: f.count("kill", k) for k in ("chaind", "gossipd", "minerd")}
    missing = [k for k, v in kinds.items() if v == 0] if kills >= 3 else []
    parts_ok = f.count("partition") >= 1 or dur < 35
    ok = kills >= want and not missing and parts_ok
    text = f"{kills} kills (at least {want} due), {f.count('partition')} partition(s)"
    if missing:
        text += f"; no kill of {', '.join(missing)}"
    return ok, text


def daemon_checks(s):
    """(5): no daemon exited by itself; each exited 0 on the final SIGTERM."""
    crashes = [x for x in s.faults.log if x.kind == "crash"]
    bad_stops = {k: v for k, v in s.stops.items() if v != 0}
    ok = not crashes and not bad_stops
    text = f"{len(crashes)} exit(s) by themselves during the run"
    if bad_stops:
        text += "; on SIGTERM: " + ", ".join(f"{k} {'hung' if v is None else 'exit ' + str(v)}"
                                            for k, v in bad_stops.items())
    else:
        text += "; all exited 0 on SIGTERM"
    return ok, text


def spent_by(chain):
    """On one node's main chain: "txid:index" -> the txid spending it, and txid -> height."""
    spender, where = {}, {}
    for h, b in enumerate(chain):
        for t, ins in b["inputs"].items():
            where[t] = h
            for c in ins:
                spender[c] = t
    return spender, where


def describe_input(c, led, spender, where, chain, p):
    txid, index = c.split(":")
    short = f"{txid[:16]}…:{index}"
    parent = f" (an output of payment #{led[txid].id}, acknowledged by node{led[txid].node} at " \
             f"t+{led[txid].t:.2f})" if txid in led else ""
    if c in spender:
        by = spender[c]
        who = "itself" if by == p.txid else \
            (f"payment #{led[by].id}" if by in led else "a transaction not in the ledger")
        if by in led and p.vanished is not None and led[by].t > p.vanished:
            who += ", made after this one vanished"
        return f"  input {short}{parent}: spent on the chain by {who}"
    if txid in where:
        return f"  input {short}{parent}: still unspent on the chain (created at height " \
               f"{where[txid]})"
    return f"  input {short}{parent}: its transaction is not on the main chain"


def is_lost(per_node):
    """Confirmed on no node's main chain (against confirmed on some only)."""
    return not any(ok for ok, _ in per_node)


def down_at(s, node, kinds, t):
    """The fault that had one of node's daemons of kinds down at time t, or None."""
    for f in s.faults.log:
        if f.node == node and f.daemon.kind in kinds and f.t0 <= t and (f.t1 is None or f.t1 >= t):
            return f
    return None


def reorgs_between(nd, w0, w1):
    """(wall time, fork height) of each reorganisation in nd's chaind log in [w0, w1]."""
    out = []
    for line in log_of(nd, "chaind"):
        m, r = STAMP.match(line), REORG.search(line)
        if m and r:
            w = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
            if w0 - 1 <= w <= w1:
                out.append((w, int(r.group(3))))
    return out


def reorg_took_parent(s, p, holders, led, where):
    """A reorganisation on a node that held p, forking below the final height
    of a payment p spends: that parent went back to the mempool, and p, a
    spend of a coin no longer confirmed, should have been parked until it
    confirmed again (chaind/parking.h)."""
    parents = [(led[c.split(":")[0]], where[c.split(":")[0]]) for c in p.inputs or []
               if c.split(":")[0] in led and c.split(":")[0] in where]
    end = s.clock.wall(s.phases["soak"][1])
    for i in holders:
        for w, fork in reorgs_between(s.nodes[i], s.clock.wall(p.t), end):
            for q, h in parents:
                if h > fork:
                    at = time.strftime("%H:%M:%S", time.gmtime(w))
                    return (f"a reorganisation on node{i} at {at} (fork at height {fork}) "
                            f"likely sent its parent #{q.id} (now at height {h}) back to the "
                            "mempool; p should have waited, parked, for it to confirm again "
                            "(see the node's \"parked\" and \"reorganisation\" lines)")
    return None


def likely(s, p, per_node, led, where):
    """A first reading of the facts; the lines below it are the evidence."""
    holders = [i for i, (_, x) in enumerate(per_node) if x == "in mempool"]
    gossip = down_at(s, p.node, ("gossipd",), p.t)
    seen = p.seen or {}
    knew = [i for i, v in seen.items() if v in ("mempool", "confirmed")]
    why = []
    if gossip:
        why.append(f"node{p.node} took it while its gossipd was down ({gossip.kind} at "
                   f"t+{gossip.t0:.1f})")
    if p.seen is not None:
        if knew == [p.node] and seen[p.node] == "confirmed":
            why.append(f"{PROBE} s later it was in a block of node{p.node}'s own branch only")
        elif knew == [p.node]:
            why.append(f"{PROBE} s later no other node knew it: not relayed")
        elif not knew:
            why.append(f"{PROBE} s later no node knew it"
                       + (f" (node{p.node} did not answer)" if seen[p.node] == "down" else ""))
        elif not set(knew) & set(s.miner_nodes):
            why.append(f"{PROBE} s later only " + ", ".join(f"node{i}" for i in knew)
                       + " knew it, no miner's node")
    if holders:
        why.append("at the end only in the mempool of " + ", ".join(f"node{i}" for i in holders)
                   + ": never rebroadcast to a miner")
        return "; ".join(why)
    end = s.phases["soak"][1]
    until = p.vanished if p.vanished is not None else end
    kills = []
    for i in sorted(set(knew) | {p.node}):  # each holder's first chaind SIGKILL after it
        first = next((f for f in s.faults.log if f.node == i and f.kind == "kill" and
                      f.daemon.kind == "chaind" and p.t <= f.t0 <= until), None)
        if first:
            kills.append(first)
    unkilled = [i for i in knew if not any(f.node == i for f in kills)]
    reorg = reorg_took_parent(s, p, sorted(set(knew) | {p.node}), led, where)
    orphans = [led[c.split(":")[0]].id for c in p.inputs or []
               if c.split(":")[0] in led and c.split(":")[0] not in where]
    if orphans:
        reorg = ("it spends an output of payment " + ", ".join(f"#{i}" for i in orphans)
                 + ", lost too: a parked child waits for its parent, and goes with it")
    if reorg:
        why.append(reorg)
    if kills:
        why.append("then the chaind of each node that held it was SIGKILLed: " + ", ".join(
            f"node{f.node} at t+{f.t0:.1f}" for f in kills) + " (the mempool is not durable)")
    if unkilled and not reorg:
        why.append("dropped from " + ", ".join(f"node{i}" for i in unkilled)
                   + " without a kill there: a reorganisation? (see the log lines)")
    return "; ".join(why) or "no fault explains it: look at the logs"


def explain(s, p, per_node, chain, verdict):
    """The circumstances of a payment that failed check (1): verdict is LOST,
    UNSETTLED or SUPERSEDED."""
    lost = verdict == "LOST"
    led = {q.txid: q for q in s.traffic.ledger}
    spender, where = spent_by(chain) if chain else ({}, {})
    w = s.clock.wall(p.t)
    end = s.phases["soak"][1]
    out = [f"{verdict} #{p.id} ({p.phase}) {p.txid}: {p.wallet.name} -> "
           f"{p.to.name} {coins(p.amount)} coins, acknowledged by node{p.node} at t+{p.t:.2f} "
           f"({s.clock.stamp(p.t)}Z)",
           "  at the end: " + ", ".join(
               f"node{i} " + (f"confirmed at height {x[1]} in {x[0][:12]}" if ok else x)
               for i, (ok, x) in enumerate(per_node))]
    if p.seen is not None:
        out.append(f"  {PROBE} s later: " + ", ".join(f"node{i} {v}" for i, v in p.seen.items()))
    if p.conflicts:
        out.append("  CONFLICT: it spends a coin that payment(s) " + ", ".join(
            f"#{c}" for c in p.conflicts) + " spend too: the harness's own double spend")
    if p.vanished is not None:
        out.append(f"  gone from every node by t+{p.vanished:.1f} (all answered 404 twice, "
                   "5 s apart; its coins were then free for other payments)")
    if lost:
        out.append("  likely: " + likely(s, p, per_node, led, where))
    out += [describe_input(c, led, spender, where, chain, p) for c in p.inputs or []]
    if p.inputs is None:
        out.append("  inputs: never read (no node knew it when asked)")
    mine = [f for f in s.faults.log if f.node == p.node and (f.t1 is None or f.t1 >= p.t - 5)]
    others = [f for f in s.faults.log if f.node != p.node and f.t0 <= p.t + 10 and
              (f.t1 is None or f.t1 >= p.t - 5)]
    out.append(f"  node{p.node}'s faults from 5 s before it on:" + ("" if mine else " none"))
    out += [f"    {f.describe()}" for f in mine]
    out.append("  other nodes' faults from 5 s before to 10 s after it:"
               + ("" if others else " none"))
    out += [f"    {f.describe()}" for f in others]
    nd = s.nodes[p.node]
    out.append(f"  node{p.node}'s logs from 5 s before it to the end of the faults:")
    for kind in ("chaind", "gossipd"):
        out += [f"    {line}" for line in log_window(nd, kind, w - 5, s.clock.wall(end))[:10]]
    for other in s.nodes:
        if other.i != p.node:
            out += [f"    node{other.i} {line}" for line in
                    log_window(other, "chaind", w - 5, w + 30) if DROPS.search(line)][:3]
    return out


def superseder(s, p, spender):
    """An earlier payment the harness saw vanish, and so respent the coins of,
    that came back and spends one of p's coins on the final chain: p is then a
    double spend of the harness's making."""
    led = {q.txid: q for q in s.traffic.ledger}
    for c in p.inputs or []:
        q = led.get(spender.get(c))
        if q is not None and q is not p and q.vanished is not None and q.vanished < p.t:
            return q
    return None


def table(s, result, st, spender):
    t = s.traffic
    led = t.ledger
    soak = [p for p in led if p.phase == "soak"]
    bad = {p.id for p in result["bad"]}
    superseded = [p for p in result["bad"] if superseder(s, p, spender)]
    lost = [p for p in soak if p.id in bad and is_lost(result["results"][p.id])
            and p not in superseded]
    unsettled = [p for p in soak if p.id in bad and p not in lost and p not in superseded]
    f = s.faults
    ok_conv, secs, why = s.converged
    parts = [x.t1 - x.t0 for x in f.log if x.kind == "partition" and not x.cut]
    cut = sum(1 for x in f.log if x.kind == "partition" and x.cut)
    refused = ", ".join(f"{k} {v}" for k, v in sorted(t.refused.items(), key=lambda kv: -kv[1]))
    pending = sum(1 for p in lost if any(x == "in mempool" for _, x in result["results"][p.id]))
    ph = s.phases
    rows = [
        ("timeline", f"setup t+0-{ph['setup'][1]:.0f} s, soak t+{ph['soak'][0]:.0f}-"
                     f"{ph['soak'][1]:.0f} s, then convergence and checks (see soak.log)"),
        ("payments", f"{len(soak)} acknowledged, {len(soak) - len(bad & {p.id for p in soak})} "
                     f"confirmed everywhere, {len(lost)} lost ({pending} of them still in a "
                     f"mempool at the end), {len(unsettled)} confirmed on some nodes only"),
        ("  sends", f"{t.attempts} in all; {t.not_ready} payment draws found no wallet ready"),
        ("  vanished", f"{sum(p.vanished is not None for p in led)} acknowledged payments seen "
                       "gone from every node during the run"),
        ("  setup, tie-break", f"{sum(p.phase == 'setup' for p in led)} and "
                               f"{sum(p.phase == 'tie-break' for p in led)} acknowledged, "
                               f"{sum(p.id in bad for p in led if p.phase != 'soak')} failed (1)"),
        ("  harness conflicts", f"{sum(1 for p in led if p.conflicts)} payments share a coin "
                                f"with another when acknowledged, {len(superseded)} lost to a "
                                "vanished payment that came back (both must be 0)"),
        ("refused", refused or "none"),
        ("  ambiguous", f"{len(t.ambiguous)} (wallet retired each time)"),
        ("kills", ", ".join(f"{k} {f.count('kill', k)}" for k in ("chaind", "gossipd", "minerd"))
         + f" ({f.count('kill')} in all)"),
        ("partitions", f"{len(parts) + cut}"
         + (f" ({min(parts):.1f}-{max(parts):.1f} s)" if parts else "")
         + (f", {cut} cut short by the end of the faults" if cut else "")),
        ("reorgs seen", f"{st['reorgs']} (deepest {st['deepest']} block(s)); by node "
                        + ", ".join(f"node{i} {n}" for i, n in st["per_node"].items())),
        ("  readmissions", f"disconnected txs: {st['back']} back in the mempool, {st['known']} "
                           f"in the new branch already, {st['parked']} parked, {st['dropped']} "
                           f"dropped; {st['unconfirmed']} mempool txs spent coins no longer "
                           "confirmed"),
        ("peer bans", str(st["bans"])),
    ]
    names = ["(0) faults as scheduled", "(1) payments confirmed once everywhere", "(2) one tip",
             "(3) equal UTXO digests", "(4) UTXO sets = replays", "(5) daemons healthy",
             "(6) converged", "(7) no harness double spend"]
    conv = (ok_conv, f"in {secs:.1f} s" if ok_conv else
            f"gave up after {secs:.1f} s: {why}")
    harness = sum(1 for p in led if p.conflicts) + len(superseded)
    clean = (harness == 0, "no two payments spent one coin" if harness == 0 else
             f"{harness} payment(s) spent a coin another spends: the verdict on them is void")
    cs = [fault_checks(s)] + result["checks"] + [daemon_checks(s), conv, clean]
    rows += [(n, ("PASS  " if ok else "FAIL  ") + text) for n, (ok, text) in zip(names, cs)]
    failed = len(lost) > 0 or not all(ok for ok, _ in cs)
    return rows, failed


def show(s, result):
    st = log_stats(s.nodes)
    first = s.miner_nodes[0]
    chain = result["chains"].get(first)
    spender = spent_by(chain)[0] if chain else {}
    rows, failed = table(s, result, st, spender)
    width = max(len(k) for k, _ in rows)
    lines = [f"chain soak, seed {s.args.seed}: {s.args.nodes} nodes, miners on "
             f"{', '.join(f'node{i}' for i in s.miner_nodes)}, {s.args.duration:.0f} s of faults"]
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    for p in result["bad"]:
        lines.append("")
        per_node = result["results"][p.id]
        q = superseder(s, p, spender)
        lines += explain(s, p, per_node, chain,
                         "SUPERSEDED" if q else "LOST" if is_lost(per_node) else "UNSETTLED")
        if q:
            lines.append(f"  its coin was respent by the harness after payment #{q.id} vanished "
                         f"at t+{q.vanished:.1f}; #{q.id} came back and was confirmed")
    if [w for w in s.traffic.wallets if w.retired]:
        lines.append("")
        lines += [f"wallet {w.name} retired: {w.retired}" for w in s.traffic.wallets if w.retired]
    lines.append("")
    lines.append(("FAIL" if failed else "PASS") + f": seed {s.args.seed}, output in {s.out}")
    text = "\n".join(lines)
    print(text, flush=True)
    with open(os.path.join(s.out, "report.txt"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return 1 if failed else 0
