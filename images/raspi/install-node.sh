#!/usr/bin/env bash
# Installs p2pfaas-node into a root file system ($1): the static aarch64 binary ($P2PFAAS_NODE_BIN),
# the hardened unit, sysusers/tmpfiles entries from images/systemd, the first-boot import of the
# configuration from the FAT partition, wired networking (DHCP), and the editable p2pfaas.toml on
# the FAT partition. Called by the vmdb2 spec (raspi4.yaml) after the cached package steps.
set -euo pipefail
root=${1:?usage: install-node.sh ROOT}
here=$(cd "$(dirname "$0")" && pwd)
systemd_dir=$here/../systemd
bin=${P2PFAAS_NODE_BIN:?P2PFAAS_NODE_BIN: path of the aarch64 p2pfaas-node}

install -D -m 0755 "$bin" "$root/usr/bin/p2pfaas-node"
install -D -m 0644 "$systemd_dir/p2pfaas-node.service" "$root/etc/systemd/system/p2pfaas-node.service"
install -D -m 0644 "$systemd_dir/p2pfaas.sysusers" "$root/usr/lib/sysusers.d/p2pfaas.conf"
install -D -m 0644 "$systemd_dir/p2pfaas.tmpfiles" "$root/usr/lib/tmpfiles.d/p2pfaas.conf"
install -D -m 0644 "$here/firstboot.conf" "$root/etc/systemd/system/p2pfaas-node.service.d/firstboot.conf"
install -D -m 0644 "$here/p2pfaas-firstboot.service" "$root/etc/systemd/system/p2pfaas-firstboot.service"
install -D -m 0755 "$here/firstboot.sh" "$root/usr/libexec/p2pfaas/firstboot.sh"
install -D -m 0644 "$here/wired.network" "$root/etc/systemd/network/10-wired.network"
# The user and its group exist in the image, so files can be given to them before the first boot.
systemd-sysusers --root="$root" "$root/usr/lib/sysusers.d/p2pfaas.conf"
install -d -m 0755 "$root/etc/p2pfaas"
# Shipped on the FAT partition, where any laptop can edit it before the first boot.
install -m 0644 "$systemd_dir/node.toml" "$root/boot/firmware/p2pfaas.toml"
