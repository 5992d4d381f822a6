#!/usr/bin/env python3
"""Lints packaging/container/Containerfile without building it (no image can be built where
CI runs): parses it with BuildKit's own parser (PyPI `dockerfile`), then checks what the
image promises. Multi-stage (a Rust build stage, a Node 24 runtime with openclaw from npm);
every file the build copies exists and every Cargo target's source is copied; clawvisor is
PID 1 (exec-form ENTRYPOINT) as a non-root user; the config it copies keeps logs and state on
the declared volumes, tees to stdout, and serves the health endpoint the HEALTHCHECK calls.

    python3 packaging/container/check.py      (pip install dockerfile)
Exit 0 when everything holds; each problem is printed.
"""
import json
import os
import sys
import tomllib

import dockerfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
problems = []


def bad(what):
    problems.append(what)


try:
    cmds = dockerfile.parse_file(os.path.join(HERE, "Containerfile"))
except dockerfile.GoParseError as e:
    print(f"Containerfile does not parse: {e}", file=sys.stderr)
    sys.exit(1)

# Split into stages.
stages = []
for c in cmds:
    if c.cmd == "FROM":
        stages.append({"from": c.value, "cmds": []})
    elif not stages:
        if c.cmd != "ARG":
            bad(f"line {c.start_line}: {c.cmd} before the first FROM")
    else:
        stages[-1]["cmds"].append(c)
if len(stages) != 2:
    bad(f"{len(stages)} stages; expected a build stage and a runtime stage")
    stages += [{"from": ("?",), "cmds": []}] * 2
build, runtime = stages[0], stages[-1]
names = {s["from"][2] for s in stages if len(s["from"]) == 3 and s["from"][1].upper() == "AS"}
if not build["from"][0].split("/")[-1].startswith("rust:"):
    bad(f"the build stage is {build['from'][0]}, not a Rust image")
if not runtime["from"][0].split("/")[-1].startswith("node:24"):
    bad(f"the runtime stage is {runtime['from'][0]}, not Node 24")


def of(stage, cmd):
    return [c for c in stage["cmds"] if c.cmd == cmd]


# What the build stage copies exists, and covers every source cargo needs.
copied = set()
for stage in stages:
    for c in of(stage, "COPY"):
        from_stage = [f for f in c.flags if f.startswith("--from=")]
        if from_stage:
            if from_stage[0].split("=", 1)[1] not in names:
                bad(f"line {c.start_line}: COPY {from_stage[0]} names no stage")
            continue
        for src in c.value[:-1]:
            if not os.path.exists(os.path.join(ROOT, src)):
                bad(f"line {c.start_line}: COPY source {src} does not exist")
            if stage is build:
                copied.add(src.rstrip("/"))
with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
    cargo = tomllib.load(f)
needed = ["Cargo.toml", "Cargo.lock", "build.rs", "src/main.rs", "src/lib.rs"]
for kind in ("bin", "bench", "example", "test"):
    needed += [t["path"] for t in cargo.get(kind, []) if "path" in t]
for path in needed:
    if not any(path == c or path.startswith(c + "/") for c in copied):
        bad(f"the build stage does not copy {path}, which cargo needs")
if not any("cargo build --release" in " ".join(c.value) for c in of(build, "RUN")):
    bad("the build stage does not run cargo build --release")
if not any("npm install -g" in " ".join(c.value) and "openclaw" in " ".join(c.value) for c in of(runtime, "RUN")):
    bad("the runtime does not install openclaw from npm")

# clawvisor is PID 1, as a non-root user.
entry = of(runtime, "ENTRYPOINT")
if not entry or not entry[-1].json or not entry[-1].value[0].endswith("/clawvisor"):
    bad("ENTRYPOINT is not clawvisor in exec form (a shell form would make sh PID 1)")
binary_dests = [c.value[-1] for c in of(runtime, "COPY") if any(f.startswith("--from=") for f in c.flags)]
if entry and entry[-1].value[0] not in binary_dests:
    bad(f"ENTRYPOINT {entry[-1].value[0]} is not the copied binary {binary_dests}")
users = of(runtime, "USER")
if not users or users[-1].value[0].split(":")[0] in ("root", "0"):
    bad("the runtime stage does not switch to a non-root USER")
elif users[-1].start_line > entry[-1].start_line:
    bad("USER comes after ENTRYPOINT")

# The config: volumes, tee, health endpoint.
cmd = of(runtime, "CMD")
args = cmd[-1].value if cmd else ()
config_path = args[args.index("--config") + 1] if "--config" in args else None
config_src = next((c.value[0] for c in of(runtime, "COPY") if c.value[-1] == config_path), None)
if not config_src:
    bad(f"CMD's --config {config_path} is not a file the image copies")
    sys.exit(1)
with open(os.path.join(ROOT, config_src), "rb") as f:
    cfg = tomllib.load(f)
volumes = set()
for c in of(runtime, "VOLUME"):
    volumes.update(json.loads(c.original.split(None, 1)[1]) if c.json else c.value)
for key in ("state", "logs"):
    if cfg.get(key, {}).get("dir") not in volumes:
        bad(f"[{key}] dir {cfg.get(key, {}).get('dir')} is not a VOLUME {sorted(volumes)}")
if not cfg.get("logs", {}).get("tee"):
    bad("[logs] tee is off: `podman logs` would show nothing of the gateway")
listen = cfg.get("metrics", {}).get("listen", "")
port = listen.rsplit(":", 1)[-1]
health = of(runtime, "HEALTHCHECK")
if not health:
    bad("no HEALTHCHECK")
elif f"127.0.0.1:{port}/healthz" not in health[-1].original:
    bad(f"the HEALTHCHECK does not call clawvisor's /healthz on [metrics] listen {listen!r}")
exposed = {v.split("/")[0] for c in of(runtime, "EXPOSE") for v in c.value}
for want in ("18789", port):
    if want not in exposed:
        bad(f"port {want} is not EXPOSEd")

for p in problems:
    print(p, file=sys.stderr)
print(f"Containerfile: {len(cmds)} instructions in {len(stages)} stages, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
