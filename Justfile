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

# benchmarks: print and save JSON figures under reports/bench/ (CPU here; GPU where available)
bench *ARGS:
    python bench/train_throughput.py {{ARGS}}
