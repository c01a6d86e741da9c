#!/usr/bin/env bash
# Validates every deployment image under images/ (what CI runs); exits non-zero on any problem.
# Needs the validators images/setup.sh installs, and builds p2pfaas-node (debug) to check each shipped
# configuration with the real `p2pfaas-node --check`.
# Usage: images/check.sh
set -euo pipefail
cd "$(dirname "$0")"
images=$PWD
venv=${P2PFAAS_IMAGES_VENV:-/var/tmp/p2pfaas-images-venv}
PATH="$venv/bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "images/check.sh: $*" >&2; exit 1; }
section() { echo "== images: $*"; }

section "build p2pfaas-node (debug) for --check"
(cd .. && cargo build -q -p p2pfaas-node)
node_bin="${CARGO_TARGET_DIR:-$images/../target}/debug/p2pfaas-node"
[ -x "$node_bin" ] || fail "no node binary at $node_bin"
head -c 32 /dev/urandom | base64 > "$tmp/cluster.key"

# check_config FILE: the real node accepts FILE, with its cluster_key_file (if any) pointed at a test key.
check_config() {
  local file=$1 copy="$tmp/check.toml"
  sed -E "s|^cluster_key_file = \".*\"$|cluster_key_file = \"$tmp/cluster.key\"|" "$file" > "$copy"
  "$node_bin" --check --config "$copy" >/dev/null || fail "$file: rejected by p2pfaas-node --check"
  echo "ok: $file is a valid node config"
}

# --- systemd -------------------------------------------------------------------------------------
section "systemd: tmpfiles.d, sysusers.d, verify, security"
root="$tmp/root"
mkdir -p "$root/etc/systemd/system" "$root/usr/bin" "$root/usr/lib/systemd" "$root/usr/lib/sysusers.d" \
  "$root/usr/lib/tmpfiles.d"
# The stock units (sysinit.target, …) so that `verify --root` sees a whole system.
cp -a /lib/systemd/system "$root/usr/lib/systemd/"
cp "$node_bin" "$root/usr/bin/p2pfaas-node"
cp systemd/p2pfaas-node.service "$root/etc/systemd/system/"
cp systemd/p2pfaas.sysusers "$root/usr/lib/sysusers.d/p2pfaas.conf"
cp systemd/p2pfaas.tmpfiles "$root/usr/lib/tmpfiles.d/p2pfaas.conf"
systemd-sysusers --root="$root" p2pfaas.conf
systemd-tmpfiles --root="$root" --create p2pfaas.conf
for d in var/lib/p2pfaas sys/fs/bpf/p2pfaas; do
  [ "$(stat -c %u "$root/$d")" = "$(awk -F: '$1=="p2pfaas"{print $3}' "$root/etc/passwd")" ] \
    || fail "tmpfiles did not create /$d owned by p2pfaas"
done
# verify prints unknown keys and bad values as warnings with exit 0: any output is a failure.
out=$(systemd-analyze verify --root="$root" p2pfaas-node.service 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"
echo "ok: systemd-analyze verify"
# --threshold is the exposure ×10: 30 means "at most 3.0".
systemd-analyze security --offline=yes --threshold=30 --root="$root" p2pfaas-node.service \
  | tail -1 || fail "systemd-analyze security: exposure above 3.0"
check_config systemd/node.toml

# --- Kubernetes ----------------------------------------------------------------------------------
section "k8s: schema (kubernetes-validate --strict), node config, wiring"
k8s/cluster-key.sh > "$tmp/secret.yaml"
kubernetes-validate --strict --quiet k8s/p2pfaas.yaml "$tmp/secret.yaml" || fail "k8s: schema validation failed"
echo "ok: k8s/p2pfaas.yaml and the cluster-key.sh Secret match the Kubernetes schemas (kubernetes-validate --strict, default version)"
# The ConfigMap's node.toml, with the Secret's key where the DaemonSet mounts it, and the listen
# address the DaemonSet sets through P2PFAAS_LISTEN.
python - "$tmp" <<'PY'
import sys, yaml, pathlib
tmp = pathlib.Path(sys.argv[1])
docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(open("k8s/p2pfaas.yaml")) if d}
secret = yaml.safe_load(open(tmp / "secret.yaml"))
def fail(msg): sys.exit(f"images/check.sh: k8s: {msg}")
toml = docs[("ConfigMap", "p2pfaas-node")]["data"]["node.toml"]
ds = docs[("DaemonSet", "p2pfaas-node")]["spec"]["template"]["spec"]
c = ds["containers"][0]
mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
vols = {v["name"]: v for v in ds["volumes"]}
key_path = f'{mounts["cluster-key"]}/cluster.key'
if vols["cluster-key"]["secret"]["secretName"] != secret["metadata"]["name"] or "cluster.key" not in secret["stringData"]:
    fail("the DaemonSet does not mount the Secret cluster-key.sh makes")
if f'cluster_key_file = "{key_path}"' not in toml:
    fail(f"node.toml's cluster_key_file is not {key_path}")
if not ds.get("hostNetwork"):
    fail("the DaemonSet must use hostNetwork")
if c["readinessProbe"]["httpGet"]["path"] != "/readyz" or c["livenessProbe"]["httpGet"]["path"] != "/healthz":
    fail("probes must be readiness /readyz, liveness /healthz")
if set(c["securityContext"]["capabilities"]["add"]) != {"BPF", "PERFMON", "NET_ADMIN", "NET_BIND_SERVICE"}:
    fail("capabilities must be BPF PERFMON NET_ADMIN NET_BIND_SERVICE")
for name in ("data", "bpffs"):
    if any(m["name"] == name and m.get("readOnly") for m in c["volumeMounts"]):
        fail(f"{name} must be writable")
if not any(e["name"] == "P2PFAAS_LISTEN" for e in c["env"]):
    fail("P2PFAAS_LISTEN must be set from the host IP")
(tmp / "cluster.key").write_text(secret["stringData"]["cluster.key"])
(tmp / "k8s.toml").write_text(toml.replace(key_path, str(tmp / "cluster.key")))
PY
P2PFAAS_LISTEN=192.0.2.10:18080 "$node_bin" --check --config "$tmp/k8s.toml" >/dev/null \
  || fail "k8s: the ConfigMap's node.toml is rejected by p2pfaas-node --check"
echo "ok: the ConfigMap's node.toml is a valid node config (listen from P2PFAAS_LISTEN, key from the Secret)"
