#!/usr/bin/env bash
# Shows that the conformance suite catches bugs: each deliberate single-line mutation of a
# security check in conformance/data/mutations.toml must make the suite fail, with a failed
# case naming the requirement the mutation breaks. Mutations are applied to a copy of the
# committed tree (never to this checkout), built into their own target directory, and run with
# `hwa-conformance run --target <sim|live>`. Prints a table; exits non-zero if any mutation
# survives. The unmutated copy runs first; a case failing there cannot count as a catch.
#
#   bash ci/mutations.sh                 # every mutation
#   MUTATIONS="origin counter" bash ci/mutations.sh
#   MUTATION_WORK=/tmp/hwa-mut bash ci/mutations.sh   # where the copy and its target live
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=${MUTATION_WORK:-$root/target/mutations}
tree="$work/tree"
export CARGO_TARGET_DIR="$work/target"

rm -rf "$tree"
mkdir -p "$tree" "$work/reports"
git archive HEAD | tar -x -C "$tree"

exec python3 - "$root/conformance/data/mutations.toml" "$tree" "$work" "${MUTATIONS:-}" <<'PY'
import json, os, subprocess, sys, time, tomllib

spec_path, tree, work, only = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
mutations = tomllib.load(open(spec_path, "rb"))["mutation"]
if only:
    mutations = [m for m in mutations if m["name"] in only]
target_dir = os.environ["CARGO_TARGET_DIR"]
runner = os.path.join(target_dir, "debug", "hwa-conformance")

def build():
    return subprocess.run(
        ["cargo", "build", "-q", "-p", "hwa-conformance", "-p", "hwa-daemon", "-p", "hwa-client",
         "-p", "hwa-admin"], cwd=tree, capture_output=True, text=True)

def run(target, name):
    report_dir = os.path.join(work, "reports", name)
    done = subprocess.run([runner, "run", "--target", target, "--report-dir", report_dir],
                          cwd=tree, capture_output=True, text=True)
    failed = []
    try:
        report = json.load(open(os.path.join(report_dir, "report.json")))
        failed = [r for r in report["results"] if r["outcome"] == "fail"]
    except (OSError, ValueError):
        pass
    return done.returncode, failed, done.stdout.strip().splitlines()[-1:] or [""]

def mutate(m):
    path = os.path.join(tree, m["file"])
    text = open(path).read()
    lines = text.split("\n")
    hits = [i for i, l in enumerate(lines) if l.strip() == m["original"].strip()]
    if len(hits) != 1:
        sys.exit(f"mutation {m['name']}: the original line occurs {len(hits)} times in "
                 f"{m['file']}; fix conformance/data/mutations.toml")
    i = hits[0]
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i] = indent + m["replacement"].strip()
    open(path, "w").write("\n".join(lines))
    return path, text, i + 1

started = time.time()
print("baseline: building and running the unmutated copy on sim and live", flush=True)
b = build()
if b.returncode != 0:
    sys.exit("the unmutated copy does not build:\n" + b.stderr)
# A case that already fails unmutated cannot show a mutation caught; it is left out of the
# verdict (and reported), and the baseline must have run at all.
baseline = {}
for target in sorted({m["target"] for m in mutations}):
    code, failed, last = run(target, f"baseline-{target}")
    if not last[0].endswith("skipped"):
        sys.exit(f"the unmutated copy did not run on {target}: {last[0]}")
    baseline[target] = {r["case"] for r in failed}
    if failed:
        print(f"warning: unmutated, these cases already fail on {target} and cannot count as "
              f"catching a mutation: {', '.join(sorted(baseline[target]))}", flush=True)

rows, survived = [], 0
for m in mutations:
    t0 = time.time()
    path, original_text, line = mutate(m)
    try:
        b = build()
        if b.returncode != 0:
            verdict, caught_by = "DOES NOT BUILD", b.stderr.strip().splitlines()[-1:]
            survived += 1
        else:
            code, failed, last = run(m["target"], m["name"])
            naming = [r["case"] for r in failed if m["requirement"] in r["requirements"]
                      and r["case"] not in baseline[m["target"]]]
            if code != 0 and naming:
                verdict, caught_by = "caught", naming
            else:
                verdict, caught_by = "SURVIVED", [r["case"] for r in failed] or last
                survived += 1
    finally:
        open(path, "w").write(original_text)
    row = (m["name"], f"{m['file']}:{line}", m["requirement"], m["target"], verdict,
           ", ".join(caught_by), f"{time.time() - t0:.0f}s")
    rows.append(row)
    print(" | ".join(row), flush=True)

print()
print("| mutation | line | requirement | target | result | failed cases naming it | time |")
print("|---|---|---|---|---|---|---|")
for row in rows:
    print("| " + " | ".join(row) + " |")
print(f"\n{len(rows) - survived} of {len(rows)} mutations caught in {time.time() - started:.0f}s")
sys.exit(1 if survived else 0)
PY
