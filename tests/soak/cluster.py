"""The nodes of a soak: real chaind, gossipd and minerd processes on loopback.

Every process is started in a session of its own (a Ctrl-C at the terminal
reaches only the harness, which then stops them) and with PR_SET_PDEATHSIG,
so that even a SIGKILL of the harness takes its daemons with it. A daemon
appends its stderr to one log a daemon, across restarts; the harness writes a
`---- soak:` line there at every start and kill, so a log reads as a timeline.
"""
import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import time

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
STARTUP = 1.0  # seconds a daemon may take to install its signal handlers

# loopback only: no proxy may sit between the harness (or chain-cli) and a node
CHILD_ENV = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
CHILD_ENV["LC_ALL"] = "C"


def _child_setup():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Clock:
    """Seconds since the soak began, and the wall time of such a moment."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.wall0 = time.time()

    def now(self):
        return time.monotonic() - self.t0

    def wall(self, t):
        return self.wall0 + t

    def stamp(self, t):
        w = self.wall(t)
        return time.strftime("%H:%M:%S", time.gmtime(w)) + f".{int(w * 1000) % 1000:03d}"


class Journal:
    """The harness's own log (soak.log): every payment and every fault."""

    def __init__(self, path, clock, echo):
        self.f = open(path, "a", encoding="utf-8")
        self.clock = clock
        self.echo = echo

    def __call__(self, text, t=None):
        t = self.clock.now() if t is None else t
        line = f"t+{t:8.3f} {self.clock.stamp(t)}Z {text}"
        self.f.write(line + "\n")
        self.f.flush()
        if self.echo:
            print(line, flush=True)


def run_child(argv, timeout):
    """Runs a short command (chain-cli): (rc, stdout, stderr); rc None on timeout."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=CHILD_ENV,
                           preexec_fn=_child_setup, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or "", e.stderr or ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """GETs to one node over a kept-alive connection, reopened when it breaks."""

    def __init__(self, port, timeout=5.0):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def get(self, path):
        """(status, JSON answer or None); status 0 when the node cannot be reached."""
        err = ""
        for _ in range(2):  # a kept-alive connection may have died with a killed chaind
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                           timeout=self.timeout)
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                body = r.read()
                try:
                    return r.status, json.loads(body)
                except ValueError:
                    return r.status, None
            except (OSError, http.client.HTTPException) as e:
                err = f"{type(e).__name__}: {e}"
                self.close()
        return 0, {"error": "unreachable", "message": err}

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Daemon:
    """One daemon process of a node, restartable with the same command line."""

    def __init__(self, node, kind, argv, log_path, clock):
        self.node, self.kind, self.argv, self.log_path = node, kind, argv, log_path
        self.clock = clock
        self.proc = None
        self.up = False
        self.starts = 0
        self.started_at = None

    @property
    def name(self):
        return f"node{self.node}/{self.kind}"

    def _mark(self, text):
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"---- soak: {text} at {self.clock.stamp(self.clock.now())}Z\n")

    def start(self, why):
        self._mark(f"start ({why})")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=CHILD_ENV,
                                         preexec_fn=_child_setup, start_new_session=True)
        self.up = True
        self.starts += 1
        self.started_at = time.monotonic()

    def exited(self):
        """The exit status when a daemon meant to be up has exited by itself, else None."""
        if not self.up or self.proc.poll() is None:
            return None
        self.up = False
        self._mark(f"exited by itself with status {self.proc.returncode}")
        return self.proc.returncode

    def kill(self, why):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.up = False
        self._mark(f"SIGKILL ({why})")

    def stop(self, timeout=10.0):
        """SIGTERM and wait: the exit status, or None when it did not exit in time (killed)."""
        if self.proc is None or self.proc.poll() is not None:
            self.up = False
            return self.proc.returncode if self.proc else 0
        # a SIGTERM before the daemon installs its handler ends it by the
        # default action: give a daemon just (re)started its first moments
        time.sleep(max(0.0, self.started_at + STARTUP - time.monotonic()))
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.up = False
        self._mark(f"SIGTERM: {'exit ' + str(rc) if rc is not None else 'no exit within 10 s'}")
        return rc

    def reap(self):
        """Last resort (exceptions, signals): SIGKILL if still running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.up = False


class Node:
    """chaind + gossipd (+ minerd) of one node, with its ports and data under out/nodeN."""

    def __init__(self, i, build, out, clock, payout):
        self.i = i
        self.dir = os.path.join(out, f"node{i}")
        os.makedirs(self.dir, exist_ok=True)
        self.build, self.clock, self.payout = build, clock, payout
        self.p2p = free_port()
        self.draw_ports()
        self.daemons = {}

    def draw_ports(self):
        self.http_port, self.rpc_port, self.events_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.http = Http(self.http_port)

    def _endpoints(self):
        return ["--rpc", f"tcp://127.0.0.1:{self.rpc_port}",
                "--events", f"tcp://127.0.0.1:{self.events_port}"]

    def make_daemons(self, peers):
        """The command lines; peers: the p2p ports of the ring neighbours."""
        b, d = self.build, self.dir
        chaind = [f"{b}/chaind/chaind", "--network", "regtest", "--datadir", f"{d}/chaind",
                  "--http", f"127.0.0.1:{self.http_port}"] + self._endpoints()
        keys = f"{d}/chaind/rpc"  # the key set chaind makes at its first start
        gossipd = [f"{b}/gossipd/gossipd", "--network", "regtest", "--datadir", f"{d}/gossipd",
                   "--listen", f"127.0.0.1:{self.p2p}", "--rpc-key", f"{keys}/gossip.key"
                   ] + self._endpoints()
        for p in peers:
            gossipd += ["--peer", f"127.0.0.1:{p}"]
        argvs = {"chaind": chaind, "gossipd": gossipd}
        if self.payout:
            argvs["minerd"] = [f"{b}/minerd/minerd", "--network", "regtest", "--threads", "1",
                               "--payout", self.payout, "--rpc-key", f"{keys}/miner.key"
                               ] + self._endpoints()
        self.daemons = {k: Daemon(self.i, k, a, os.path.join(d, f"{k}.log"), self.clock)
                        for k, a in argvs.items()}

    def start_chaind(self, peers):
        """Starts chaind and waits for /healthz; draws new ports when another
        process took one (a port free when drawn may be bound before chaind binds it)."""
        for _ in range(3):
            self.make_daemons(peers)
            c = self.daemons["chaind"]
            c.start("setup")
            for _ in range(200):
                if self.http.get("/healthz")[0] == 200:
                    return
                if c.proc.poll() is not None:
                    break
                time.sleep(0.05)
            if c.proc.poll() is None:
                raise RuntimeError(f"node{self.i}'s chaind did not answer /healthz within 10 s "
                                   f"(see {c.log_path})")
            c.up = False
            with open(c.log_path, encoding="utf-8", errors="replace") as f:
                if "Address already in use" not in f.read():
                    raise RuntimeError(f"node{self.i}'s chaind exited at start (see {c.log_path})")
            self.draw_ports()
        raise RuntimeError(f"node{self.i}'s chaind found its ports taken three times")
