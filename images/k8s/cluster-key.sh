#!/usr/bin/env bash
# Prints the Secret p2pfaas.yaml mounts as the cluster key: 32 random bytes, base64, generated here so
# no key is ever checked in. Every node shares it; keep a copy to join nodes outside the cluster.
# Usage: images/k8s/cluster-key.sh | kubectl apply -f -
set -euo pipefail
key=$(head -c 32 /dev/urandom | base64 -w0)
cat <<YAML
---
apiVersion: v1
kind: Secret
metadata:
  name: p2pfaas-cluster-key
  namespace: p2pfaas
type: Opaque
stringData:
  cluster.key: "$key"
YAML
