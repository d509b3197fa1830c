#!/usr/bin/env bash
# The main job: the conformance suite against the simulated cluster and against a live local
# cluster on the embedded SQLite store, writing JUnit, Markdown and JSON reports to
# reports/conformance/. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked -p hwa-daemon -p hwa-client -p hwa-admin -p hwa-conformance
cargo run --locked -q -p hwa-conformance -- run --target all --report-dir reports/conformance
