#!/usr/bin/env bash
# The workspace denies unsafe code; the memory-locking system calls are the one exception.
# This keeps that exception from spreading: any other `allow(unsafe_code)` fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
allowed="impl/core/src/memlock/sys.rs"
found=$(grep -rln --include='*.rs' 'allow(unsafe_code)' impl sim conformance virtual-authenticator \
    | grep -v "^$allowed\$" || true)
if [ -n "$found" ]; then
    echo "unsafe code is allowed only in $allowed; also found in:" >&2
    echo "$found" >&2
    exit 1
fi
