#!/usr/bin/env python3
"""Validates packaging/kubernetes/: every manifest against the Kubernetes API schema of a
current version (kubernetes-validate, strict: unknown fields are errors), then what a schema
cannot see: that the pieces refer to each other correctly (the kustomization's files and
image, the Service's and PodMonitor's selectors and ports, probes, volumes, the Secret and
ConfigMap keys) and that clawvisor's config fits the pod (stop timeout under the grace
period, memory restart under the limit, the metrics listener on the pod's IP).

    python3 packaging/kubernetes/check.py [KUBERNETES_VERSION]   (pip install kubernetes-validate)
Exit 0 when everything holds; each problem is printed as FILE: problem.
"""
import os
import subprocess
import sys
import tomllib

import kubernetes_validate
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
# Default: the newest Kubernetes version this kubernetes-validate knows.
VERSION = sys.argv[1] if len(sys.argv) > 1 else kubernetes_validate.latest_version()
problems = []


def bad(where, what):
    problems.append(f"{where}: {what}")


def load(name):
    with open(os.path.join(HERE, name)) as f:
        return yaml.safe_load(f)


def size_bytes(text):
    """A Kubernetes quantity ("6Gi") or a clawvisor size ("5GiB") in bytes."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    text = text.removesuffix("B")
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


# 1. The schemas. Kustomization and PodMonitor are not Kubernetes API kinds: checked below.
manifests = sorted(f for f in os.listdir(HERE) if f.endswith(".yaml"))
run = subprocess.run(
    [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", "-k", VERSION]
    + [os.path.join(HERE, f) for f in manifests if f not in ("kustomization.yaml", "podmonitor.yaml")],
    capture_output=True,
    text=True,
)
print(run.stdout + run.stderr, end="")
if run.returncode != 0:
    bad("kubernetes-validate", f"exit {run.returncode}")
print(f"kubernetes-validate --strict -k {VERSION}: {len(manifests) - 2} manifests")

# 2. The kustomization names files that exist and the image the pods use.
kust = load("kustomization.yaml")
for res in kust["resources"]:
    if not os.path.exists(os.path.join(HERE, res)):
        bad("kustomization.yaml", f"resource {res} does not exist")
sts = load("statefulset.yaml")
pod = sts["spec"]["template"]
containers = pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
image_names = {i["name"] for i in kust.get("images", [])}
for c in containers:
    if c["image"] not in image_names:
        bad("statefulset.yaml", f"container {c['name']} image {c['image']} is not in the kustomization's images")

# 3. Selectors and ports.
labels = pod["metadata"]["labels"]
if sts["spec"]["selector"]["matchLabels"].items() - labels.items():
    bad("statefulset.yaml", "selector does not match the pod template's labels")
main = next(c for c in pod["spec"]["containers"] if c["name"] == "clawvisor")
ports = {p["name"]: p["containerPort"] for p in main["ports"]}
svc = load("service.yaml")
if sts["spec"]["serviceName"] != svc["metadata"]["name"]:
    bad("statefulset.yaml", "serviceName is not the Service")
if svc["spec"]["selector"].items() - labels.items():
    bad("service.yaml", "selector matches no pod")
for p in svc["spec"]["ports"]:
    if p["targetPort"] not in ports:
        bad("service.yaml", f"targetPort {p['targetPort']} is not a container port")
pm = load("podmonitor.yaml")
if pm["apiVersion"] != "monitoring.coreos.com/v1" or pm["kind"] != "PodMonitor":
    bad("podmonitor.yaml", "not a monitoring.coreos.com/v1 PodMonitor")
if pm["spec"]["selector"]["matchLabels"].items() - labels.items():
    bad("podmonitor.yaml", "selector matches no pod")
for ep in pm["spec"]["podMetricsEndpoints"]:
    if ep["port"] not in ports or ep["path"] != "/metrics":
        bad("podmonitor.yaml", f"endpoint {ep} is not the metrics port's /metrics")
ann = pod["metadata"]["annotations"]
if ann.get("prometheus.io/scrape") != "true" or int(ann["prometheus.io/port"]) != ports["metrics"]:
    bad("statefulset.yaml", "prometheus.io annotations do not point at the metrics port")

# 4. Probes: liveness on clawvisor's health, readiness on the gateway's readiness through it.
for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    get = main[probe]["httpGet"]
    if get["path"] != path or get["port"] != "metrics":
        bad("statefulset.yaml", f"{probe} is not {path} on the metrics port")

# 5. Volumes, the ConfigMap and the Secret.
volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
for c in containers:
    for m in c["volumeMounts"]:
        if m["name"] not in volumes and m["name"] not in claims:
            bad("statefulset.yaml", f"{c['name']} mounts unknown volume {m['name']}")
cm = load("configmap.yaml")
if volumes["config"]["configMap"]["name"] != cm["metadata"]["name"]:
    bad("statefulset.yaml", "the config volume is not the ConfigMap")
secret = load("secret.yaml")
if volumes["gateway-token"]["secret"]["secretName"] != secret["metadata"]["name"]:
    bad("statefulset.yaml", "the token volume is not the Secret")
for env in main.get("env", []):
    ref = env.get("valueFrom", {}).get("secretKeyRef")
    if ref and (ref["name"] != secret["metadata"]["name"] or ref["key"] not in secret["stringData"]):
        bad("statefulset.yaml", f"env {env['name']} names a missing secret key")
config_path = main["args"][main["args"].index("--config") + 1]
config_dir = next(m["mountPath"] for m in main["volumeMounts"] if m["name"] == "config")
if os.path.dirname(config_path) != config_dir or os.path.basename(config_path) not in cm["data"]:
    bad("statefulset.yaml", f"--config {config_path} is not a key of the ConfigMap")

# 6. clawvisor's config fits the pod.
cfg = tomllib.loads(cm["data"]["clawvisor.toml"])
grace = pod["spec"]["terminationGracePeriodSeconds"]
if seconds(cfg.get("stop", {}).get("timeout", "30s")) + 5 > grace:
    bad("configmap.yaml", f"[stop] timeout leaves no margin under terminationGracePeriodSeconds {grace}")
limit = size_bytes(main["resources"]["limits"]["memory"])
if size_bytes(cfg["memory"]["restart_above"]) >= limit:
    bad("configmap.yaml", "[memory] restart_above is not below the container's memory limit")
listen = cfg.get("metrics", {}).get("listen", "")
if not listen.startswith("0.0.0.0:") or int(listen.rsplit(":", 1)[1]) != ports["metrics"]:
    bad("configmap.yaml", f"[metrics] listen {listen!r} is not the metrics port on all interfaces")
token_mount = next(m["mountPath"] for m in main["volumeMounts"] if m["name"] == "gateway-token")
token_file = cfg.get("probes", {}).get("completion", {}).get("token_file")
if token_file and os.path.dirname(token_file) != token_mount:
    bad("configmap.yaml", f"token_file {token_file} is not in the Secret's mount {token_mount}")
try:
    import json
    oc = json.loads(cm["data"]["openclaw.json"])
    if oc["gateway"]["bind"] == "loopback":
        bad("configmap.yaml", "openclaw.json binds loopback: the Service could not reach it")
except (KeyError, ValueError) as e:
    bad("configmap.yaml", f"openclaw.json: {e}")

for p in problems:
    print(p, file=sys.stderr)
print(f"{len(problems)} problem(s)")
sys.exit(1 if problems else 0)
