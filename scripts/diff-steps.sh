#!/usr/bin/env bash
# diff-steps.sh [--check] - write the diff between each pair of consecutive stages into the book.
#
# For each pair of stage crates that exist, in order (step01-uts, step02-self-exec, ...; a
# missing stage is skipped, so its neighbours are paired), writes
# book/src/diffs/stepNN-stepMM.diff: `diff -ruN` of the two crate directories (Cargo.toml,
# src/, anything else in them but target/). The output is stable: no timestamps, C locale,
# files in name order, so running it again on unchanged code gives byte-identical files.
# A .diff in that folder that no pair produces any more is removed.
#
# --check: write nothing; exit 1 and name each stale, missing or extra diff when the files
# in the book differ from a fresh run (CI runs this through scripts/check-book.sh).
set -euo pipefail
export LC_ALL=C TZ=UTC

check=0
case ${1:-} in
--check) check=1 ;;
"") ;;
-h | --help)
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' -- "${BASH_SOURCE[0]}"
    exit 0
    ;;
*)
    printf 'error: unknown argument: %s\nhint: usage: scripts/diff-steps.sh [--check]\n' "$1" >&2
    exit 2
    ;;
esac

root=$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
out=book/src/diffs
cd "$root"

# The stage crates, in order: step01-* .. step07-*, each a directory with a Cargo.toml.
stages=()
for n in 01 02 03 04 05 06 07; do
    found=()
    for d in step"$n"-*/; do
        [[ -f $d/Cargo.toml ]] && found+=("${d%/}")
    done
    case ${#found[@]} in
    0) ;;
    1) stages+=("${found[0]}") ;;
    *)
        printf 'error: more than one crate for stage %s: %s\n' "$n" "${found[*]}" >&2
        exit 2
        ;;
    esac
done

# diff -ruN of two crates, with the timestamps taken off the ---/+++ lines.
diff_pair() {
    local status=0
    diff -ruN -x target -- "$1" "$2" >"$3.raw" || status=$?
    if ((status > 1)); then
        printf 'error: diff -ruN %s %s failed (status %d)\n' "$1" "$2" "$status" >&2
        exit 2
    fi
    sed -E 's/^((---|\+\+\+) [^\t]*)\t.*$/\1/' "$3.raw" >"$3"
    rm -f -- "$3.raw"
}

fresh=$(mktemp -d)
trap 'rm -rf -- "$fresh"' EXIT
wanted=()
for ((i = 1; i < ${#stages[@]}; i++)); do
    a=${stages[i - 1]} b=${stages[i]}
    name=${a%%-*}-${b%%-*}.diff
    wanted+=("$name")
    diff_pair "$a" "$b" "$fresh/$name"
done

problems=0
if ((check)); then
    for name in "${wanted[@]}"; do
        if [[ ! -f $out/$name ]]; then
            printf '%s/%s: missing: run scripts/diff-steps.sh\n' "$out" "$name"
            problems=$((problems + 1))
        elif ! cmp -s -- "$fresh/$name" "$out/$name"; then
            printf '%s/%s: stale: the stages changed since it was written; run scripts/diff-steps.sh\n' "$out" "$name"
            problems=$((problems + 1))
        fi
    done
fi
for f in "$out"/*.diff; do
    [[ -e $f ]] || continue
    name=${f##*/}
    [[ " ${wanted[*]} " == *" $name "* ]] && continue
    if ((check)); then
        printf '%s: extra: no pair of consecutive stages makes it; run scripts/diff-steps.sh\n' "$f"
        problems=$((problems + 1))
    else
        rm -f -- "$f"
        printf 'removed %s\n' "$f"
    fi
done
if ((check)); then
    ((problems == 0)) || exit 1
    exit 0
fi

mkdir -p -- "$out"
for name in "${wanted[@]}"; do
    if cmp -s -- "$fresh/$name" "$out/$name" 2>/dev/null; then
        printf 'unchanged %s/%s\n' "$out" "$name"
    else
        cp -- "$fresh/$name" "$out/$name"
        printf 'wrote %s/%s\n' "$out" "$name"
    fi
done
