# Kernel options p2pfaas-node needs on a Raspberry Pi (meta-raspberrypi's linux-raspberrypi, machine
# override `rpi`): bpf() and tracepoint programs with the JIT, bpffs, io_uring and PSI
# (p2pfaas-bpf.cfg); and BTF (p2pfaas-btf.cfg, for the tp_btf programs) when meta-oe
# (collection openembedded-layer), which provides pahole, is in the build.
DEPENDS:append:rpi = " ${@bb.utils.contains('BBFILE_COLLECTIONS', 'openembedded-layer', 'pahole-native', '', d)}"

FILESEXTRAPATHS:prepend:rpi := "${THISDIR}/files:"

SRC_URI:append:rpi = " file://p2pfaas-bpf.cfg"
SRC_URI:append:rpi = " ${@bb.utils.contains('BBFILE_COLLECTIONS', 'openembedded-layer', 'file://p2pfaas-btf.cfg', '', d)}"
