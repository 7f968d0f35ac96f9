#!/usr/bin/python3
"""Checks deploy/k8s/*.yaml and deploy/Dockerfile against the built binaries.

Every manifest must parse; every container must run one of our binaries with
only the flags and environment variables that binary's --help lists; the ports
a daemon is told to listen on must be the container ports declared; probes
must hit routes chaind serves; Services must target declared ports; the
Dockerfile must copy binaries the install step produces. A daemon with a
tcp:// rpc or events endpoint must have its CURVE keys (DESIGN §1): chaind its
key directory holding server.key and clients, gossipd gossip.key, minerd
miner.key, each from a Secret mounted read-only, and no container another's
keys.

usage: check_manifests.py BUILD_DIR
"""
import glob
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARIES = {"chaind": "chaind/chaind", "gossipd": "gossipd/gossipd", "minerd": "minerd/minerd"}
# env twins whose value is HOST:PORT (or an endpoint) a container listens on
LISTEN_ENV = {"CHAIND_HTTP": "http", "CHAIND_RPC": "rpc", "CHAIND_EVENTS": "events",
              "GOSSIPD_LISTEN": "p2p", "GOSSIPD_METRICS": "metrics-gossip",
              "MINERD_METRICS": "metrics-miner"}
ROUTES = {"/healthz", "/readyz", "/status", "/metrics"}
# each daemon's endpoints, the variable naming its keys, and the Secret's
# items it must see there (a directory for chaind, a file for the others)
KEYS = {"chaind": (("CHAIND_RPC", "CHAIND_EVENTS"), "CHAIND_RPC_KEYS", {"server.key", "clients"}),
        "gossipd": (("GOSSIPD_RPC", "GOSSIPD_EVENTS"), "GOSSIPD_RPC_KEY", {"gossip.key"}),
        "minerd": (("MINERD_RPC", "MINERD_EVENTS"), "MINERD_RPC_KEY", {"miner.key"})}
errors = []


def fail(where, message):
    errors.append(f"{where}: {message}")


def help_of(build, binary):
    out = subprocess.run([os.path.join(build, BINARIES[binary]), "--help"], capture_output=True,
                         text=True, check=True).stdout
    return set(re.findall(r"--([a-z][a-z0-9-]*)", out)), set(re.findall(r"\benv ([A-Z0-9_]+)", out))


def check_keys(where, binary, c, volumes):
    """The container's keys: where its variable points, from a read-only Secret."""
    endpoints, var, items = KEYS[binary]
    env = {e["name"]: e.get("value", "") for e in c.get("env") or []}
    # the defaults are tcp://127.0.0.1
    if not any(env.get(v, "tcp://").startswith("tcp://") for v in endpoints):
        return
    path = env.get(var)
    if not path:
        fail(where, f"{binary} speaks to tcp:// endpoints but {var} names no key")
        return
    keydir = path if binary == "chaind" else os.path.dirname(path)
    mounts = [m for m in c.get("volumeMounts") or [] if m["mountPath"] == keydir]
    if not mounts:
        fail(where, f"{var}={path}: nothing is mounted at {keydir}")
        return
    m = mounts[0]
    secret = (volumes.get(m["name"]) or {}).get("secret")
    if not secret:
        fail(where, f"{keydir} is not a Secret volume")
        return
    if not m.get("readOnly"):
        fail(where, f"the keys at {keydir} are not mounted read-only")
    got = {i["path"] for i in secret.get("items") or []}
    if got != items:
        fail(where, f"{keydir} holds {sorted(got) or 'the whole Secret'}, not {sorted(items)}")
    if binary != "chaind" and os.path.basename(path) not in got:
        fail(where, f"{var}={path} is not a file of the Secret's items")


def check_container(where, c, build, volumes):
    cmd = c.get("command") or []
    if not cmd or cmd[0] not in BINARIES:
        fail(where, f"runs {cmd!r}, not one of {sorted(BINARIES)}")
        return
    flags, envs = help_of(build, cmd[0])
    for arg in (cmd[1:] + (c.get("args") or [])):
        m = re.match(r"--([a-z0-9-]+)", str(arg))
        if m and m.group(1) not in flags:
            fail(where, f"{cmd[0]} has no flag --{m.group(1)}")
    names = [e["name"] for e in c.get("env") or []]
    refs = set(re.findall(r"\$\(([A-Z0-9_]+)\)", yaml.safe_dump(c.get("env") or [])))
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
    for e in c.get("env") or []:
        name = e["name"]
        if name not in envs and name not in refs:
            fail(where, f"{cmd[0]} reads no variable {name} (its --help lists {sorted(envs)})")
        if name in LISTEN_ENV and "value" in e:
            port = int(re.search(r":(\d+)$", e["value"]).group(1))
            want = LISTEN_ENV[name]
            if ports.get(want) != port:
                fail(where, f"{name}={e['value']} but container port '{want}' is {ports.get(want)}")
    for ref in refs:
        if ref not in names:
            fail(where, f"$({ref}) refers to no variable of the container")
    check_keys(where, cmd[0], c, volumes)
    for probe in ("livenessProbe", "readinessProbe"):
        get = (c.get(probe) or {}).get("httpGet")
        if get:
            if get["path"] not in ROUTES:
                fail(where, f"{probe} path {get['path']} is not a route of chaind")
            if get["port"] not in ports and get["port"] not in ports.values():
                fail(where, f"{probe} port {get['port']} is not a container port")
    return ports


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    docs = []
    for path in sorted(glob.glob(os.path.join(ROOT, "deploy/k8s/*.yaml"))):
        with open(path) as f:
            try:
                docs += [(os.path.basename(path), d) for d in yaml.safe_load_all(f) if d]
            except yaml.YAMLError as e:
                fail(path, f"does not parse: {e}")
    pod_ports = {}  # app label -> port names
    for name, d in docs:
        if d.get("kind") in ("StatefulSet", "Deployment"):
            spec = d["spec"]["template"]["spec"]
            app = d["spec"]["template"]["metadata"]["labels"]["app"]
            volumes = {v["name"]: v for v in spec.get("volumes") or []}
            for c in spec["containers"]:
                ports = check_container(f"{name} {d['metadata']['name']}/{c['name']}", c, build,
                                        volumes)
                pod_ports.setdefault(app, set()).update((ports or {}).keys())
            for vm in (c.get("volumeMounts") or [] for c in spec["containers"]):
                for m in vm:
                    claims = [t["metadata"]["name"] for t in d["spec"].get("volumeClaimTemplates", [])]
                    if m["name"] not in claims + [v["name"] for v in spec.get("volumes", [])]:
                        fail(name, f"volume {m['name']} is not declared")
    services = {}
    for name, d in docs:
        if d.get("kind") == "Service":
            app = d["spec"]["selector"]["app"]
            services[d["metadata"]["name"]] = {p["name"] for p in d["spec"]["ports"]}
            for p in d["spec"]["ports"]:
                if isinstance(p["targetPort"], str) and p["targetPort"] not in pod_ports.get(app, ()):
                    fail(name, f"Service {d['metadata']['name']} targets port {p['targetPort']}, "
                               f"which pods of {app} do not declare")
    for name, d in docs:
        if d.get("kind") == "Ingress":
            for rule in d["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    svc = path["backend"]["service"]
                    if svc["name"] not in services or svc["port"]["name"] not in services[svc["name"]]:
                        fail(name, f"Ingress backend {svc} is no Service port")
    with open(os.path.join(ROOT, "deploy/Dockerfile")) as f:
        dockerfile = f.read()
    for binary in list(BINARIES) + ["chain-cli"]:
        if f"/opt/chain/bin/{binary}" not in dockerfile:
            fail("deploy/Dockerfile", f"does not copy {binary} into the image")
    if errors:
        print("\n".join(errors))
        sys.exit(1)
    print(f"manifests checked: {len(docs)} documents in deploy/k8s, deploy/Dockerfile")


main()
