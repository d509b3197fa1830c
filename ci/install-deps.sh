#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: a browser for the approval page tests,
# etcd for the shared-store tests, OpenSSH for interoperability tests, and protoc with the
# well-known protos for the etcd client, libudev with pkg-config for the client's USB security key
# transport (it finds FIDO keys through udev), and Yubico's python-fido2 to check the virtual
# security key against an independent client. Safe to run again: it installs only what is missing.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
# etcd-client's protos import google/protobuf/*.proto, which protoc finds in libprotobuf-dev.
[ -f /usr/include/google/protobuf/descriptor.proto ] || need+=(libprotobuf-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -f /usr/include/libudev.h ] || need+=(libudev-dev)

if [ "${#need[@]}" -gt 0 ]; then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python3 -c 'import fido2' 2>/dev/null || python3 -m pip install --quiet --root-user-action=ignore fido2

rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
