SUMMARY = "Example image: a minimal system that boots into a p2pfaas node"
DESCRIPTION = "core-image with p2pfaas-node enabled at boot (systemd), bpftool to inspect its pinned \
               maps and an SSH server; build it for MACHINE = raspberrypi4-64."
SECTION = "images"
LICENSE = "MIT"

inherit core-image

IMAGE_FEATURES += "ssh-server-dropbear"
IMAGE_INSTALL += "p2pfaas-node bpftool"
