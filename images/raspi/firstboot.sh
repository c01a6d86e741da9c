#!/bin/sh
# Imports the node's configuration from the FAT boot partition ($1) into $2 (/etc/p2pfaas):
# - p2pfaas.toml: checked with `p2pfaas-node --check` first; a bad file is refused (the previous
#   configuration stays) and the error is logged, naming the field;
# - cluster.key: moved (FAT has no permissions), 0640 root:p2pfaas; without one ever given, a random
#   key is made, so the node runs alone until the fleet's key is dropped on the card;
# - authorized_keys: root's SSH keys (the image has no password login); SSH host keys are made here.
#
# P2PFAAS_NODE, P2PFAAS_GROUP and P2PFAAS_ROOT (a prefix for /root/.ssh and /etc/ssh) let
# images/raspi/check.sh run it on a build host.
set -eu
boot=${1:?boot partition}
etc=${2:?config dir}
node=${P2PFAAS_NODE:-/usr/bin/p2pfaas-node}
group=${P2PFAAS_GROUP:-p2pfaas}
root=${P2PFAAS_ROOT:-}
install -d -m 0755 "$etc"

# The key first: the configuration check reads the file auth.cluster_key_file names.
if [ -s "$boot/cluster.key" ]; then
  install -m 0640 -g "$group" "$boot/cluster.key" "$etc/cluster.key.new"
  mv "$etc/cluster.key.new" "$etc/cluster.key"
  rm -f "$boot/cluster.key"
  echo "p2pfaas: imported the cluster key (removed from $boot)"
elif [ ! -s "$etc/cluster.key" ]; then
  umask 027
  head -c 32 /dev/urandom | base64 > "$etc/cluster.key"
  chgrp "$group" "$etc/cluster.key"
  echo "p2pfaas: no cluster.key on $boot: made a random one (this node joins no other until given the fleet's)"
fi

if [ -f "$boot/p2pfaas.toml" ]; then
  if out=$("$node" --check --config "$boot/p2pfaas.toml" 2>&1); then
    install -m 0644 "$boot/p2pfaas.toml" "$etc/node.toml.new"
    mv "$etc/node.toml.new" "$etc/node.toml"
    echo "p2pfaas: imported $boot/p2pfaas.toml"
  else
    echo "p2pfaas: $boot/p2pfaas.toml refused, keeping the previous configuration: $out" >&2
  fi
fi

if [ -s "$boot/authorized_keys" ]; then
  install -d -m 0700 "$root/root/.ssh"
  install -m 0600 "$boot/authorized_keys" "$root/root/.ssh/authorized_keys"
  echo "p2pfaas: installed root's authorized_keys"
fi
if command -v ssh-keygen >/dev/null 2>&1; then
  install -d "$root/etc/ssh"
  ssh-keygen -A -f "$root/" >/dev/null
fi
