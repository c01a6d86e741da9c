#!/bin/sh
# Runs inside the booted image (added to a copy by boot-test.sh, never shipped): prints what only the
# guest can see, one "BOOTTEST ..." line per fact, to the serial console boot-test.sh reads.
say() { echo "BOOTTEST $*"; }
say kernel "$(uname -srm)"
i=0
until [ -e /sys/fs/bpf/p2pfaas/CPU_STATS ] || [ $i -ge 120 ]; do sleep 1; i=$((i + 1)); done
pid=$(systemctl show -p MainPID --value p2pfaas-node.service)
say unit "$(systemctl is-active p2pfaas-node.service)" "user=$(ps -o user= -p "$pid" | tr -d ' ')"
[ -s /etc/p2pfaas/cluster.key ] && [ ! -e /boot/firmware/cluster.key ] && say key imported
say pins "$(find /sys/fs/bpf/p2pfaas -mindepth 1 -printf '%f ')"
say bpffs "$(findmnt -n -o OPTIONS /sys/fs/bpf | tr '\n' ' ')" "mode=$(stat -c %a /sys/fs/bpf)"
# The node's own word on pinning (a failure there is logged, not fatal).
journalctl -u p2pfaas-node.service -o cat --no-pager | grep -i 'pin' | while read -r line; do say log "$line"; done
bpftool prog show | grep -E 'name sched_' | while read -r line; do say prog "$line"; done
# The classic programs, forced, in a second node beside the first.
sed -e 's/^listen = .*/listen = "127.0.0.1:18081"/' -e 's|^pin_dir = .*|pin_dir = "/sys/fs/bpf/p2pfaas-classic"|' \
  -e 's/^source = .*/source = "ebpf"\nebpf_programs = "classic"/' /etc/p2pfaas/node.toml > /run/classic.toml
/usr/bin/p2pfaas-node --config /run/classic.toml --data-dir /run/classic-data > /dev/null 2>/run/classic.log &
classic=$!
i=0
until curl -sf http://127.0.0.1:18081/readyz > /dev/null || [ $i -ge 60 ]; do sleep 1; i=$((i + 1)); done
say classic "$(curl -sf http://127.0.0.1:18081/metrics | grep -o 'kind="[a-z_]*"' | head -n 1)" \
  "pins=$(find /sys/fs/bpf/p2pfaas-classic -mindepth 1 2>/dev/null | wc -l)"
bpftool prog show | grep -E 'raw_tracepoint +name sched_' | while read -r line; do say prog "$line"; done
kill "$classic"
wait "$classic"
say 'done'
