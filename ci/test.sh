#!/usr/bin/env bash
# The test command of the README: formatting, lints, then every test of the workspace.
# Tests start what they need themselves (hwad, etcd, sshd, chromium) on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The etcd backend is behind a feature so that a plain build needs no protoc; check it too.
cargo clippy -p hwa-store --all-targets --features etcd --locked -- -D warnings
bash ci/check-unsafe.sh
# Several tests run the real binaries of other packages (`hwactl`, `hwa`, `hwad`); cargo builds a
# package's binaries only for that package's own tests, so build them all first.
cargo build --workspace --bins --locked
# The virtual security key against an independent CTAP2 client (Yubico's python-fido2).
python3 ci/interop/fido2_client.py target/debug/hwa-virtual-key
cargo test --workspace --locked
cargo test -p hwa-store --features etcd --locked
