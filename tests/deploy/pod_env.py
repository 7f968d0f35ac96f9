#!/usr/bin/python3
"""Prints the containers of the chain-node StatefulSet pod as shell lines:

    CONTAINER NAME=VALUE NAME=VALUE ... -- COMMAND

with $(VAR) references expanded (POD_NAME is the given pod name) and paths
under the pod's volume mount (/data) rebased onto VOLUME, as mounting the
volume there would. usage: pod_env.py MANIFEST POD_NAME VOLUME
"""
import shlex
import sys

import yaml

manifest, pod_name, volume = sys.argv[1:4]
with open(manifest) as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
sts = next(d for d in docs if d.get("kind") == "StatefulSet")
for c in sts["spec"]["template"]["spec"]["containers"]:
    mounts = [m["mountPath"] for m in c.get("volumeMounts") or []]
    env = {}
    for e in c.get("env") or []:
        if "valueFrom" in e:
            env[e["name"]] = pod_name  # the only fieldRef used: metadata.name
            continue
        value = e["value"]
        for name, v in env.items():
            value = value.replace(f"$({name})", v)
        for m in mounts:
            if value.startswith(m):
                value = volume + value[len(m):]
        env[e["name"]] = value
    words = [c["name"]] + [f"{k}={v}" for k, v in env.items() if k != "POD_NAME"]
    print(" ".join(shlex.quote(w) for w in words + ["--"] + c["command"] + (c.get("args") or [])))
