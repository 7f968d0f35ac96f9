#!/usr/bin/python3
"""Prints the containers of the chain-node StatefulSet pod as shell lines:

    CONTAINER NAME=VALUE NAME=VALUE ... -- COMMAND

with $(VAR) references expanded (POD_NAME is the given pod name) and paths
under the pod's mounts rebased as mounting would: the data volume (/data) onto
VOLUME, and each Secret volume onto a directory of its own beside VOLUME that
holds the Secret's items as the kubelet writes them for a pod with an fsGroup
(mode 0440), copied from SECRETS (the files of the Secret, as
`chaind --init-rpc-keys` makes them). usage: pod_env.py MANIFEST POD_NAME
VOLUME SECRETS
"""
import os
import shlex
import shutil
import sys

import yaml

manifest, pod_name, volume, secrets = sys.argv[1:5]
with open(manifest) as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
sts = next(d for d in docs if d.get("kind") == "StatefulSet")
spec = sts["spec"]["template"]["spec"]
volumes = {v["name"]: v for v in spec.get("volumes") or []}


def mount_target(container, m):
    """Where a mount's path lands on this machine."""
    secret = (volumes.get(m["name"]) or {}).get("secret")
    if not secret:
        return volume
    target = f"{volume}.{container}.{m['name']}"
    os.makedirs(target, exist_ok=True)
    for item in secret.get("items") or [{"key": k, "path": k} for k in os.listdir(secrets)]:
        dst = os.path.join(target, item["path"])
        shutil.copyfile(os.path.join(secrets, item["key"]), dst)
        os.chmod(dst, 0o440)
    return target


for c in spec["containers"]:
    mounts = {m["mountPath"]: mount_target(c["name"], m) for m in c.get("volumeMounts") or []}
    env = {}
    for e in c.get("env") or []:
        if "valueFrom" in e:
            env[e["name"]] = pod_name  # the only fieldRef used: metadata.name
            continue
        value = e["value"]
        for name, v in env.items():
            value = value.replace(f"$({name})", v)
        for path, target in mounts.items():
            if value == path or value.startswith(path + "/"):
                value = target + value[len(path):]
        env[e["name"]] = value
    words = [c["name"]] + [f"{k}={v}" for k, v in env.items() if k != "POD_NAME"]
    print(" ".join(shlex.quote(w) for w in words + ["--"] + c["command"] + (c.get("args") or [])))
