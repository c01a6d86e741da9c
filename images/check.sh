#!/usr/bin/env bash
# Validates every deployment image under images/ (what CI runs); exits non-zero on any problem.
# Needs the validators images/setup.sh installs, and builds p2pfaas-node (debug) to check each shipped
# configuration with the real `p2pfaas-node --check`. Run as root, as CI does: the tmpfiles.d check
# creates files owned by p2pfaas, and the bpffs mount and the systemd boot test need root.
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

for tool in systemd-analyze systemd-sysusers systemd-tmpfiles docker-compose shellcheck curl yamllint hadolint \
  kubernetes-validate oelint-adv; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing: run images/setup.sh"
done

# With the eBPF toolchain (ebpf/setup.sh) the binary has the `ebpf` feature, as scripts/test.sh's
# last build leaves it, so running this after scripts/test.sh rebuilds nothing.
features=()
if bpf-linker --version >/dev/null 2>&1; then features=(--features ebpf); fi
section "build p2pfaas-node (debug${features[*]:+, ${features[*]}}) for --check and the boot test"
(cd .. && cargo build -q -p p2pfaas-node "${features[@]}")
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
# The unit for real: systemd in a throw-away container starts it, sandbox and all.
if [ "$(id -u)" = 0 ] && command -v systemd-nspawn >/dev/null 2>&1; then
  expect=()
  if [ ${#features[@]} -gt 0 ]; then expect=(--expect-ebpf); fi
  systemd/boot-test.sh "$node_bin" "${expect[@]}" > "$tmp/boot.out" 2>&1 \
    || { cat "$tmp/boot.out" >&2; fail "systemd: the unit did not start under systemd (boot-test.sh)"; }
  grep '^boot-test.sh:' "$tmp/boot.out"
else
  echo "skipped: systemd boot test (needs root and systemd-nspawn; images/setup.sh installs systemd-container)"
fi

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

# --- balena --------------------------------------------------------------------------------------
section "balena: docker-compose config, no host bind mounts, entrypoint"
balena/push.sh --stage-only "$tmp/balena" >/dev/null
(cd "$tmp/balena" && docker-compose config) > "$tmp/compose.yml" || fail "balena: docker-compose config rejected the file"
echo "ok: docker-compose config (compose schema $(awk -F"'" '/^version:/{print $2}' "$tmp/compose.yml")) on the tree push.sh stages"
python - "$tmp/compose.yml" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
def fail(msg): sys.exit(f"images/check.sh: balena: {msg}")
named = set(c.get("volumes") or {})
for name, s in c["services"].items():
    for v in s.get("volumes", []):
        if isinstance(v, dict):
            src, kind = v.get("source", ""), v.get("type", "volume")
        else:
            src, kind = v.split(":")[0], "volume"
        if kind != "volume" or src not in named:
            fail(f"service {name}: {v!r} is a host bind mount (balena rejects them); use a named volume")
    if s.get("network_mode") != "host" or not s.get("privileged"):
        fail(f"service {name}: needs network_mode: host and privileged: true")
    for f in ("sysfs", "procfs", "kernel-modules"):
        if s.get("labels", {}).get(f"io.balena.features.{f}") != "1":
            fail(f"service {name}: missing label io.balena.features.{f}")
print("ok: no host bind mounts; host network, privileged, balena feature labels")
PY
grep -q '%%BALENA_ARCH%%' balena/Dockerfile.template || fail "balena: Dockerfile.template does not use %%BALENA_ARCH%%"

# The entrypoint, run here as the container would run it: config from device variables into a temp
# dir, checked by the real node; bpffs mounted on a temp dir when we are root.
entry_env=(env -i "PATH=$PATH" "P2PFAAS_CONFIG=$tmp/entry/node.toml" "P2PFAAS_DATA_DIR=$tmp/entry/data"
  "P2PFAAS_KEY_FILE=$tmp/entry/run/cluster.key" "P2PFAAS_BPF_DIR=$tmp/entry/bpf" "P2PFAAS_NODE_BIN=$node_bin"
  "P2PFAAS_ADVERTISE=192.0.2.10:18080")
mkdir -p "$tmp/entry/bpf"
unmount_bpf() { if mountpoint -q "$tmp/entry/bpf"; then umount "$tmp/entry/bpf"; fi; }
trap 'unmount_bpf; rm -rf "$tmp"' EXIT
"${entry_env[@]}" P2PFAAS_NODE_ID=pi-kitchen P2PFAAS_SEEDS="192.0.2.20:18080, pi-2.local:18080" \
  P2PFAAS_CLUSTER_KEY="$(cat "$tmp/cluster.key")" balena/entrypoint.sh --check >/dev/null 2>"$tmp/entry.err" \
  || fail "balena: entrypoint's config rejected: $(cat "$tmp/entry.err")"
for want in 'machine_id = "pi-kitchen"' 'init_servers = ["192.0.2.20:18080", "pi-2.local:18080"]' \
  "cluster_key_file = \"$tmp/entry/run/cluster.key\"" 'advertise = "192.0.2.10:18080"'; do
  grep -qxF "$want" "$tmp/entry/node.toml" || fail "balena: entrypoint's config lacks: $want"
done
cmp -s <(tr -d '\n' < "$tmp/entry/run/cluster.key") <(tr -d '\n' < "$tmp/cluster.key") \
  || fail "balena: entrypoint wrote a different cluster key"
if [ "$(id -u)" = 0 ]; then
  mountpoint -q "$tmp/entry/bpf" || fail "balena: entrypoint did not mount bpffs"
  echo "ok: entrypoint mounted bpffs on an empty directory"
  unmount_bpf
fi
echo "ok: entrypoint's config (node id, seeds, cluster key) passes p2pfaas-node --check"
if "${entry_env[@]}" P2PFAAS_SEEDS='x"]' balena/entrypoint.sh --check >/dev/null 2>&1; then
  fail "balena: entrypoint accepted a seed that would break the TOML"
fi
unmount_bpf
# And live: the node started by the entrypoint answers /healthz and /readyz and stops on SIGTERM.
"${entry_env[@]}" P2PFAAS_LISTEN=127.0.0.1:0 P2PFAAS_WORKERS=1 balena/entrypoint.sh \
  > "$tmp/entry.out" 2>"$tmp/entry.err" &
entry_pid=$!
for _ in $(seq 100); do grep -q '^listening ' "$tmp/entry.out" && break; sleep 0.1; done
addr=$(awk '/^listening /{print $2; exit}' "$tmp/entry.out")
[ -n "$addr" ] || { kill "$entry_pid"; fail "balena: the node did not start: $(cat "$tmp/entry.err")"; }
for path in healthz readyz; do
  curl -fsS "http://$addr/$path" >/dev/null || { kill "$entry_pid"; fail "balena: /$path failed"; }
done
kill -TERM "$entry_pid"
wait "$entry_pid" || fail "balena: the node did not exit 0 on SIGTERM"
unmount_bpf
echo "ok: the node started by the entrypoint answered /healthz and /readyz on $addr and stopped on SIGTERM"

# --- Yocto ---------------------------------------------------------------------------------------
section "yocto: oelint-adv (kirkstone, scarthgap), crates.inc, copies, license checksum, kernel fragments"
layer=yocto/meta-p2pfaas
recipe_dir=$layer/recipes-p2pfaas/p2pfaas-node
mapfile -t bbfiles < <(find "$layer" yocto/*.conf -name '*.bb' -o -name '*.bbappend' -o -name '*.conf' | sort)
# Suppressed, with the reasons in images/yocto/README.md: no public home page, tracker or CVE name
# yet; authors are in git; the node is a target-only program.
oelint_suppress=(--suppress oelint.var.mandatoryvar.HOMEPAGE --suppress oelint.var.suggestedvar.BUGTRACKER
  --suppress oelint.var.suggestedvar.CVE_PRODUCT --suppress oelint.var.suggestedvar.AUTHOR
  --suppress oelint.var.bbclassextend
  # CARGO_LOCK_PATH is a scarthgap cargo class variable that kirkstone's data does not know.
  --constantmods=+yocto/oelint-constants.json)
for release in kirkstone scarthgap; do
  oelint-adv --release "$release" --mode all --relpaths --quiet "${oelint_suppress[@]}" "${bbfiles[@]}" \
    || fail "yocto: oelint-adv --release $release found problems"
done
echo "ok: oelint-adv clean for kirkstone and scarthgap: ${bbfiles[*]}"
python yocto/gen-crates.py --check || fail "yocto: run images/yocto/gen-crates.py"
for f in p2pfaas-node.service node.toml p2pfaas.tmpfiles; do
  cmp -s "systemd/$f" "$recipe_dir/files/$f" || fail "yocto: $recipe_dir/files/$f differs from systemd/$f (copy it)"
done
echo "ok: the layer's unit, config and tmpfiles.d entry are images/systemd's"
lic=$(grep -o 'file://Cargo.toml;beginline=[0-9]*;endline=[0-9]*;md5=[0-9a-f]*' "$recipe_dir/p2pfaas-node_git.bb") \
  || fail "yocto: no LIC_FILES_CHKSUM on Cargo.toml"
begin=$(echo "$lic" | sed -E 's/.*beginline=([0-9]+).*/\1/'); end=$(echo "$lic" | sed -E 's/.*endline=([0-9]+).*/\1/')
want=$(echo "$lic" | sed -E 's/.*md5=//')
got=$(sed -n "${begin},${end}p" ../Cargo.toml | md5sum | awk '{print $1}')
[ "$got" = "$want" ] || fail "yocto: LIC_FILES_CHKSUM md5 $want, Cargo.toml lines $begin-$end give $got"
sed -n "${begin},${end}p" ../Cargo.toml | grep -q '^license = ' || fail "yocto: Cargo.toml line $begin is not the license"
echo "ok: LIC_FILES_CHKSUM matches Cargo.toml's license line"
for cfg in "$layer"/recipes-kernel/linux/files/*.cfg; do
  if grep -vnE '^(CONFIG_[A-Z0-9_]+=(y|m|n|[0-9]+|"[^"]*")|# CONFIG_[A-Z0-9_]+ is not set|#.*|)$' "$cfg"; then
    fail "yocto: $cfg: lines above are not kernel config lines"
  fi
  grep -q 'file://'"$(basename "$cfg")" "$layer"/recipes-kernel/linux/*.bbappend || fail "yocto: $cfg is not used"
done
echo "ok: kernel fragments are well formed and used"
if grep -qE '^strip *=' <(sed -n '/^\[profile.release\]/,/^\[/p' ../Cargo.toml); then
  fail "yocto: [profile.release] strips; Yocto strips and splits debug info itself"
fi

# --- Raspberry Pi image (CI mode; the build and boot test are images/raspi/build.sh, boot-test.sh) ---
section "raspi: vmdb2 spec, first boot, install into a scratch root"
raspi/check.sh "$node_bin" || fail "raspi/check.sh"

# --- every file ----------------------------------------------------------------------------------
section "yamllint, hadolint, shellcheck"
mapfile -t yamls < <(find . -name '*.yml' -o -name '*.yaml' | sort)
yamllint -s -c .yamllint.yaml "${yamls[@]}" "$tmp/secret.yaml" || fail "yamllint"
echo "ok: yamllint ${yamls[*]} and the generated Secret"
hadolint balena/Dockerfile.template k8s/Dockerfile || fail "hadolint"
echo "ok: hadolint balena/Dockerfile.template k8s/Dockerfile"
mapfile -t scripts < <(find . -name '*.sh' | sort)
shellcheck "${scripts[@]}" || fail "shellcheck"
echo "ok: shellcheck ${scripts[*]}"
