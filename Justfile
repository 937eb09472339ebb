# stcg recipes.  Run them through ./run (which sets up .venv) or, with .venv active, `just RECIPE`.

set shell := ["bash", "-euo", "pipefail", "-c"]

# list the recipes
default:
    @just --list

# install nothing more; fetch the pinned real inputs into data/ (idempotent, checksums verified)
setup:
    stcg inputs fetch

# fetch the inputs, then reproduce every stage of the active profile (params.yaml: profile)
repro *ARGS: setup
    dvc repro {{ARGS}}

# the test suite (fast, CPU only)
test *ARGS: setup
    python -m pytest -q {{ARGS}}

# lint the code
lint:
    ruff check src stages tests bench

# reproduce the tiny profile from scratch (what CI runs), then check the main pipeline's `dvc status` is clean
repro-tiny: setup
    stcg profile tiny
    dvc repro --force
    test "$(dvc status dvc.yaml --json)" = "{}" || (dvc status dvc.yaml; exit 1)

# the ablations (their own pipeline, ablations/dvc.yaml), then REPORT.md with the new ablation table;
# with -S (e.g. `ablate -S ablate.seeds=3`) it runs as `dvc exp run`, which sets the param first
ablate *ARGS: setup
    if [[ " {{ARGS}} " =~ \ (-S|--set-param)[\ =] ]]; then dvc exp run ablations/dvc.yaml {{ARGS}}; else dvc repro ablations/dvc.yaml {{ARGS}}; fi
    dvc repro --single-item --force report

# experiments side by side: changed params and headline metrics only (no dependency columns)
compare *ARGS:
    dvc exp show --only-changed --drop '.*/.*' {{ARGS}}

# every chart (dvc.yaml plots) as one HTML page that works offline (vega inlined): build/plots/index.html
plots *ARGS:
    dvc plots show --html-template vendor/vega/dvc_plots_template.html -o build/plots {{ARGS}}

# compare the charts of revisions or experiments offline, e.g. `just plots-diff main HEAD`
plots-diff *REVS:
    dvc plots diff --html-template vendor/vega/dvc_plots_template.html -o build/plots_diff {{REVS}}

# benchmarks: `bench` lists them; `bench NAME [ARGS]` runs bench/NAME.py (JSON under reports/bench/)
bench NAME="" *ARGS:
    @if [ -z "{{NAME}}" ]; then for f in bench/*.py; do printf '%-20s %s\n' "$(basename "$f" .py)" "$(sed -n '1s/^"""//p' "$f")"; done; else python "bench/{{NAME}}.py" {{ARGS}}; fi

# the paper profile's real shapes through every stage on CPU, timed (reports/bench/paper_smoke.json)
paper-smoke *ARGS:
    python bench/paper_smoke.py {{ARGS}}
