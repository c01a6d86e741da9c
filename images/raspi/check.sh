#!/usr/bin/env bash
# CI mode for images/raspi (images/check.sh runs it): the checks that take seconds, where building the
# image (build.sh, ~30-40 min on 2 cores) and booting it (boot-test.sh, ~10 min) do not fit in CI.
# - raspi4.yaml against vmdb2's own step runners: every step is known and has no unknown key;
# - firstboot.sh on scratch directories with the real node: a good p2pfaas.toml is imported, a bad one
#   refused (the previous configuration stays), cluster.key moved off the FAT partition with mode
#   0640, a key made when none was ever given;
# - install-node.sh into a scratch root, and its units through `systemd-analyze verify`.
# (images/check.sh also runs shellcheck and yamllint on these files, with the others.)
# Usage: images/raspi/check.sh NODE_BINARY
set -euo pipefail
node=$(realpath "${1:?usage: check.sh NODE_BINARY}")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "images/raspi/check.sh: $*" >&2; exit 1; }

# vmdb2 is a Debian package: its modules are for the system Python.
/usr/bin/python3 - "$here/raspi4.yaml" <<'PY' || fail "raspi4.yaml does not match vmdb2's steps"
import importlib.util, inspect, pathlib, sys
import yaml
import vmdb

runners = []
for path in sorted(pathlib.Path(vmdb.__file__).parent.joinpath("plugins").glob("*_plugin.py")):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if issubclass(cls, vmdb.StepRunnerInterface) and cls is not vmdb.StepRunnerInterface:
            runners.append(cls().get_key_spec())
steps = yaml.safe_load(open(sys.argv[1]))["steps"]
bad = 0
for n, step in enumerate(steps, 1):
    keys = set(step) - {"unless"}
    # A step is the runner whose first (naming) key it has, and may use only that runner's keys.
    match = [r for r in runners if next(iter(r)) in keys]
    if not match:
        print(f"step {n}: no vmdb2 step has any of {sorted(keys)}")
        bad += 1
    elif not any(keys <= set(r) for r in match):
        print(f"step {n} ({next(iter(match[0]))}): unknown keys {sorted(keys - set(match[0]))}")
        bad += 1
if bad:
    sys.exit(1)
print(f"ok: raspi4.yaml: {len(steps)} steps, each known to vmdb2 with only its keys")
PY

# firstboot.sh as the image runs it, on scratch directories.
boot=$tmp/boot etc=$tmp/etc
mkdir -p "$boot" "$tmp/root"
group=$(id -gn)
export P2PFAAS_NODE=$node P2PFAAS_GROUP=$group P2PFAAS_ROOT=$tmp/root
sed "s|^cluster_key_file = .*|cluster_key_file = \"$etc/cluster.key\"|" "$here/../systemd/node.toml" > "$boot/p2pfaas.toml"
head -c 32 /dev/urandom | base64 > "$boot/cluster.key"
cp "$boot/cluster.key" "$tmp/key.given"
"$here/firstboot.sh" "$boot" "$etc" > "$tmp/out" || fail "firstboot.sh failed: $(cat "$tmp/out")"
cmp -s "$etc/cluster.key" "$tmp/key.given" || fail "firstboot.sh: the given cluster key was not installed"
[ ! -e "$boot/cluster.key" ] || fail "firstboot.sh: cluster.key left on the FAT partition"
[ "$(stat -c %a "$etc/cluster.key")" = 640 ] || fail "firstboot.sh: cluster.key mode $(stat -c %a "$etc/cluster.key")"
cmp -s "$etc/node.toml" "$boot/p2pfaas.toml" || fail "firstboot.sh: p2pfaas.toml not imported"
echo "ok: firstboot.sh imports p2pfaas.toml and moves cluster.key off the FAT partition (0640)"
cp "$etc/node.toml" "$tmp/good.toml"
printf '[queue]\nslots = "many"\n' >> "$boot/p2pfaas.toml"
"$here/firstboot.sh" "$boot" "$etc" > "$tmp/out" 2>&1 || fail "firstboot.sh failed on a bad file"
cmp -s "$etc/node.toml" "$tmp/good.toml" || fail "firstboot.sh: a bad p2pfaas.toml replaced the configuration"
grep -q "refused" "$tmp/out" || fail "firstboot.sh: no refusal logged: $(cat "$tmp/out")"
cmp -s "$etc/cluster.key" "$tmp/key.given" || fail "firstboot.sh: the key changed without a new one given"
echo "ok: firstboot.sh refuses a bad p2pfaas.toml and keeps the previous configuration"
rm -rf "$etc"
"$here/firstboot.sh" "$boot" "$etc" > "$tmp/out" 2>&1 || true
[ -s "$etc/cluster.key" ] || fail "firstboot.sh: no key made when none was given"
echo "ok: firstboot.sh makes a random key when none was ever given"

# install-node.sh into a scratch root; the units it installs pass systemd-analyze verify there.
root=$tmp/image
mkdir -p "$root/boot/firmware" "$root/usr/bin" "$root/usr/lib/systemd"
# The stock units (sysinit.target, …) so that `verify --root` sees a whole system.
cp -a /lib/systemd/system "$root/usr/lib/systemd/"
P2PFAAS_NODE_BIN=$node "$here/install-node.sh" "$root" > "$tmp/install.log" 2>&1 \
  || fail "install-node.sh: $(cat "$tmp/install.log")"
for f in usr/bin/p2pfaas-node etc/systemd/system/p2pfaas-node.service etc/systemd/system/p2pfaas-firstboot.service \
  etc/systemd/system/p2pfaas-node.service.d/firstboot.conf usr/libexec/p2pfaas/firstboot.sh \
  etc/systemd/network/10-wired.network boot/firmware/p2pfaas.toml; do
  [ -e "$root/$f" ] || fail "install-node.sh did not install /$f"
done
grep -q '^p2pfaas:' "$root/etc/passwd" || fail "install-node.sh: no p2pfaas user in the image"
out=$(systemd-analyze verify --root="$root" p2pfaas-firstboot.service p2pfaas-node.service 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
echo "ok: install-node.sh installs the node, its units (verified) and the FAT p2pfaas.toml"
