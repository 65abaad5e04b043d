#!/usr/bin/env bash
# Mutation testing of the pure core with mutmut 3 (not part of ./scripts/test: it takes minutes).
#
#   tests/mutation/run.sh                      every module in [tool.mutmut] only_mutate (pyproject.toml)
#   tests/mutation/run.sh MODULE.py ...        only these (paths as listed there)
#   tests/mutation/run.sh --changed [BASE]     only the listed modules changed since BASE
#                                              (default: the merge base with main), uncommitted edits included
#   tests/mutation/run.sh --score [MODULE.py]  print the scores of the last run, mutate nothing
#
# Options: --max-children N (parallel mutants, default: the CPU count), --min-score P (default 90),
# --fresh (delete mutants/ first). Prints killed / (total - equivalent) per module and every mutant
# left to kill or to list in tests/mutation/equivalent.txt; exits 1 when a module is below the
# minimum score or an equivalent.txt entry is stale. To add a module: append its path to
# only_mutate and its unit tests to pytest_add_cli_args_test_selection in pyproject.toml.
#
# Runs from the repository (or worktree) root; mutmut copies the code into mutants/ (git-ignored).
# Interpreter: $PYTHON, else .venv/bin/python, else python3 (needs the mutation and test extras).
set -euo pipefail
cd "$(dirname "$0")/../.."

python="${PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
helper=tests/mutation/mutation.py
if ! "$python" -c 'import mutmut' 2>/dev/null; then
    echo "mutmut is not installed for $python; install the mutation extra: $python -m pip install -e '.[mutation]'" >&2
    exit 2
fi

max_children=""
min_score=90
changed=""
base=""
score_only=""
fresh=""
modules=()
while [ $# -gt 0 ]; do
    case "$1" in
        --changed)
            changed=1
            if [ $# -gt 1 ] && [[ "$2" != -* ]] && [[ "$2" != *.py ]]; then base="$2"; shift; fi
            ;;
        --score) score_only=1 ;;
        --fresh) fresh=1 ;;
        --max-children) max_children="$2"; shift ;;
        --min-score) min_score="$2"; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        *) modules+=("$1") ;;
    esac
    shift
done

if [ -n "$changed" ]; then
    if [ -z "$base" ]; then
        base="$(git merge-base HEAD main 2>/dev/null || git rev-parse HEAD)"
    fi
    listed="$("$python" "$helper" changed "$base")"
    mapfile -t modules <<< "$listed"
    if [ -z "$listed" ]; then
        echo "no module of [tool.mutmut] only_mutate changed since $base"
        exit 0
    fi
elif [ ${#modules[@]} -eq 0 ]; then
    listed="$("$python" "$helper" modules)"
    mapfile -t modules <<< "$listed"
fi

if [ -z "$score_only" ]; then
    listed="$("$python" "$helper" patterns "${modules[@]}")"  # exits here (2) on a module not listed
    mapfile -t patterns <<< "$listed"
    if [ -n "$fresh" ]; then rm -rf mutants; fi
    echo "== mutating: ${modules[*]}" >&2
    args=(run)
    if [ -n "$max_children" ]; then args+=(--max-children "$max_children"); fi
    # mutmut draws a progress spinner; keep its output in a log and print the scores below instead.
    log="$(mktemp)"
    "$python" -m mutmut "${args[@]}" "${patterns[@]}" > "$log" 2>&1 || {
        status=$?
        tr '\r' '\n' < "$log" | tail -n 40 >&2
        echo "mutmut failed (exit $status); full output in $log" >&2
        exit "$status"
    }
    mv "$log" mutants/run.log
    tr '\r' '\n' < mutants/run.log | grep -a "mutations/second" || true
fi
exec "$python" "$helper" score --min-score "$min_score" "${modules[@]}"
