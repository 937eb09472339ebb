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

# reproduce the tiny profile from scratch (what CI runs), then check `dvc status` is clean
repro-tiny: setup
    stcg profile tiny
    dvc repro --force
    test "$(dvc status --json)" = "{}" || (dvc status; exit 1)

# benchmarks: `bench` lists them; `bench NAME [ARGS]` runs bench/NAME.py (JSON under reports/bench/)
bench NAME="" *ARGS:
    @if [ -z "{{NAME}}" ]; then for f in bench/*.py; do printf '%-20s %s\n' "$(basename "$f" .py)" "$(sed -n '1s/^"""//p' "$f")"; done; else python "bench/{{NAME}}.py" {{ARGS}}; fi

# the paper profile's real shapes through every stage on CPU, timed (reports/bench/paper_smoke.json)
paper-smoke *ARGS:
    python bench/paper_smoke.py {{ARGS}}
