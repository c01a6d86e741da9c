SUMMARY = "p2pfaas edge node: peer-to-peer FaaS scheduling and load balancing"
DESCRIPTION = "One process per device that runs functions, forwards them to less loaded peers \
               (SWIM membership, load piggybacked on gossip) and measures load in the kernel."
SECTION = "net"
LICENSE = "MIT | Apache-2.0"
# The workspace's license line (Cargo.toml `license = "MIT OR Apache-2.0"`); the repository ships no
# separate license text.
LIC_FILES_CHKSUM = "file://Cargo.toml;beginline=12;endline=12;md5=86b31c7756a1a7962f28b62856ed4f05"

PV = "0.1.0+git${SRCPV}"

SRC_URI = "git://${P2PFAAS_REPO};protocol=file;branch=${P2PFAAS_BRANCH} \
           file://p2pfaas-node.service \
           file://node.toml \
           file://p2pfaas.tmpfiles \
           "
# The p2pfaas git repository this layer sits in (images/yocto/meta-p2pfaas, five levels above this
# recipe) and the branch built; set both in local.conf to build from another clone.
P2PFAAS_REPO ??= "${@os.path.normpath(os.path.join(d.getVar('FILE_DIRNAME'), '..', '..', '..', '..', '..'))}"
P2PFAAS_BRANCH ??= "main"
# The head of P2PFAAS_BRANCH in the repository this layer sits in; for a release, set
# SRCREV:pn-p2pfaas-node to a commit in local.conf.
# nooelint: oelint.vars.autorev
SRCREV = "${AUTOREV}"
S = "${WORKDIR}/git"

require p2pfaas-node-crates.inc

inherit cargo systemd useradd

# Build the node package of the workspace. Without the `ebpf` feature (its kernel programs need a
# pinned nightly and bpf-linker) the node samples PSI/procfs load; see images/yocto/README.md.
CARGO_SRC_DIR = "node"
# The workspace's lock file is at the root, not beside node/Cargo.toml.
CARGO_LOCK_PATH = "${S}/Cargo.lock"

# The cluster key every node shares (at least 16 bytes; `head -c 32 /dev/urandom | base64`), set in
# local.conf. It is installed as /etc/p2pfaas/cluster.key, which node.toml names.
P2PFAAS_CLUSTER_KEY ??= ""

USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = "--system --home-dir ${localstatedir}/lib/p2pfaas --no-create-home --shell /sbin/nologin --user-group p2pfaas"

SYSTEMD_SERVICE:${PN} = "p2pfaas-node.service"

do_install:append() {
    install -d ${D}${systemd_system_unitdir} ${D}${sysconfdir}/p2pfaas ${D}${nonarch_libdir}/tmpfiles.d
    install -m 0644 ${WORKDIR}/p2pfaas-node.service ${D}${systemd_system_unitdir}/p2pfaas-node.service
    install -m 0644 ${WORKDIR}/node.toml ${D}${sysconfdir}/p2pfaas/node.toml
    install -m 0644 ${WORKDIR}/p2pfaas.tmpfiles ${D}${nonarch_libdir}/tmpfiles.d/p2pfaas.conf
    if [ -z "${P2PFAAS_CLUSTER_KEY}" ]; then
        bbfatal "set P2PFAAS_CLUSTER_KEY in local.conf (see images/yocto/raspberrypi4-64.local.conf)"
    fi
    printf '%s\n' "${P2PFAAS_CLUSTER_KEY}" > ${D}${sysconfdir}/p2pfaas/cluster.key
    chmod 0640 ${D}${sysconfdir}/p2pfaas/cluster.key
    chown root:p2pfaas ${D}${sysconfdir}/p2pfaas/cluster.key
}

FILES:${PN} += "${nonarch_libdir}/tmpfiles.d/p2pfaas.conf"
CONFFILES:${PN} = "${sysconfdir}/p2pfaas/node.toml ${sysconfdir}/p2pfaas/cluster.key"
