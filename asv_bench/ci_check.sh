#!/usr/bin/env bash
# CI for the benchmarks: `asv check`, then a --quick run of a small subset
# against the installed checkout (--python=same). asv's machine file, results
# and HTML go to a temporary directory, so the run leaves no files behind.
# Exit status: nonzero when a benchmark cannot be imported or fails
# (benchmarks skipped for an unavailable backend or PyTorch do not count).
#
#   asv_bench/ci_check.sh                    # python from PATH
#   PYTHON=.venv/bin/python asv_bench/ci_check.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# the same configuration, with every output under the scratch directory
"$python" - "$here" "$scratch" <<'PY'
import json, os, sys
from asv.util import load_json

here, scratch = sys.argv[1:]
conf = load_json(os.path.join(here, "asv.conf.json"), js_comments=True)
conf.update(
    repo=os.path.dirname(here),
    benchmark_dir=os.path.join(here, "benchmarks"),
    env_dir=os.path.join(scratch, "env"),
    results_dir=os.path.join(scratch, "results"),
    html_dir=os.path.join(scratch, "html"),
)
with open(os.path.join(scratch, "asv.conf.json"), "w") as file:
    json.dump(conf, file)
PY

export HOME="$scratch"  # asv keeps its machine description in ~/.asv-machine.json
asv=("$python" -m asv --config "$scratch/asv.conf.json")
"${asv[@]}" machine --yes --machine ci >/dev/null

echo "== asv check"
"${asv[@]}" check --python=same

echo "== asv run --quick (subset)"
subset='^bench_(kernels\.(Matmul|KernelPoolHandOff|Conv2D|SoftmaxCrossEntropy)|autograd|workloads\.Workload\.time_train_step|peers\.TorchWorkload\.time_train_step)'
commit="$(git -C "$here" rev-parse HEAD 2>/dev/null || true)"
if [ -n "$commit" ]; then
    save=(--set-commit-hash "$commit")
else
    save=(--dry-run)
fi
"${asv[@]}" run --python=same --quick --show-stderr --machine ci "${save[@]}" --bench "$subset"
