"""Faults of a soak, drawn from a seeded random stream.

- Kills: one at a time, SIGKILL of a daemon, restarted 0.5-3 s later; the
  next kill comes 0.5-2.5 s after the restart, so a kill starts at least
  every 5.5 s (60 s reach 10 kills, 10 minutes 100). The daemon kinds come
  from a shuffled bag (chaind, gossipd, minerd), so each kind is hit in
  every three kills; the node is drawn among those running that kind.
- Partitions: a node's gossipd killed for 5-20 s, the first 5-15 s in, the
  next 5-20 s after one heals; they overlap kills.
- Daemons that exit by themselves are restarted after 1 s and reported.
"""

KILL_DOWN = (0.5, 3.0)
KILL_GAP = (0.5, 2.5)
PARTITION_FIRST = (5.0, 15.0)
PARTITION_LEN = (5.0, 20.0)
PARTITION_GAP = (5.0, 20.0)
KINDS = ("chaind", "gossipd", "minerd")


class Fault:
    def __init__(self, kind, daemon, t0):
        self.kind, self.daemon, self.t0, self.t1 = kind, daemon, t0, None
        self.cut = False  # ended early by the end of the faults

    @property
    def node(self):
        return self.daemon.node

    def describe(self):
        down = f"down {self.t1 - self.t0:.1f} s" if self.t1 is not None else "still down"
        what = {"kill": f"SIGKILL {self.daemon.kind}", "partition": "partition (gossipd killed)",
                "crash": f"{self.daemon.kind} EXITED BY ITSELF"}[self.kind]
        return f"t+{self.t0:.1f} node{self.node} {what} ({down})"


class Faults:
    def __init__(self, nodes, rng, journal, clock):
        self.nodes, self.rng, self.journal, self.clock = nodes, rng, journal, clock
        self.log = []          # every Fault, in order
        self.restarts = []     # [t, Fault]: daemons to start again
        self.bag = []
        self.active = False
        self.kill_pending = False
        self.next_kill = self.next_partition = float("inf")
        self.partition = None  # [t_end, Fault]

    def begin(self, t):
        self.active = True
        self.next_kill = t + self.rng.uniform(*KILL_GAP)
        self.next_partition = t + self.rng.uniform(*PARTITION_FIRST)

    def next_time(self):
        times = [r[0] for r in self.restarts] + [self.partition[0] if self.partition else
                                                 self.next_partition]
        if not self.kill_pending:
            times.append(self.next_kill)
        return min(times)

    def _daemons(self, kind):
        return [n.daemons[kind] for n in self.nodes if kind in n.daemons and n.daemons[kind].up]

    def _kill(self, t):
        for _ in range(len(KINDS) + 1):
            if not self.bag:
                self.bag = self.rng.sample(KINDS, len(KINDS))
            candidates = self._daemons(self.bag.pop())
            if candidates:
                d = self.rng.choice(candidates)
                f = Fault("kill", d, t)
                d.kill("chaos kill")
                self.log.append(f)
                down = self.rng.uniform(*KILL_DOWN)
                self.restarts.append([t + down, f])
                self.kill_pending = True
                self.journal(f"kill {d.name} (restart in {down:.2f} s)", t)
                return
        self.next_kill = t + 1.0  # nothing up to kill: try again soon

    def _partition(self, t):
        up = [n for n in self.nodes if n.daemons["gossipd"].up]
        if not up:
            self.next_partition = t + 1.0
            return
        d = self.rng.choice(up).daemons["gossipd"]
        d.kill("partition")
        f = Fault("partition", d, t)
        self.log.append(f)
        length = self.rng.uniform(*PARTITION_LEN)
        self.partition = [t + length, f]
        self.journal(f"partition node{d.node}: gossipd killed for {length:.1f} s", t)

    def _restart(self, t, f):
        f.t1 = t
        f.daemon.start(f"after {f.kind}")
        self.journal(f"restart {f.daemon.name} after {f.kind} ({t - f.t0:.2f} s down)", t)
        if f.kind == "kill":
            self.kill_pending = False
            self.next_kill = t + self.rng.uniform(*KILL_GAP)

    def watch(self, t):
        """Daemons that exited by themselves: recorded, restarted in 1 s."""
        for n in self.nodes:
            for d in n.daemons.values():
                rc = d.exited()
                if rc is not None:
                    f = Fault("crash", d, t)
                    self.log.append(f)
                    self.restarts.append([t + 1.0, f])
                    self.journal(f"CRASH {d.name} exited by itself with status {rc}", t)

    def tick(self, t):
        self.watch(t)
        for r in [r for r in self.restarts if r[0] <= t]:
            self.restarts.remove(r)
            self._restart(t, r[1])
        if self.partition and self.partition[0] <= t:
            f = self.partition[1]
            self.partition = None
            self._restart(t, f)
            self.next_partition = t + self.rng.uniform(*PARTITION_GAP) if self.active else \
                float("inf")
        if not self.active:
            return
        if not self.kill_pending and self.next_kill <= t:
            self._kill(t)
        if not self.partition and self.next_partition <= t:
            self._partition(t)

    def end(self, t):
        """No more faults: everything down starts again now."""
        self.active = False
        self.next_kill = self.next_partition = float("inf")
        for r in self.restarts:
            r[0] = t
            r[1].cut = True
        if self.partition:
            self.partition[0] = t
            self.partition[1].cut = True
        self.tick(t)

    def count(self, kind, daemon_kind=None):
        return sum(1 for f in self.log if f.kind == kind and
                   (daemon_kind is None or f.daemon.kind == daemon_kind))
