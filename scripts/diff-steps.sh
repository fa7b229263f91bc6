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
# The book's `// ANCHOR: NAME` and `// ANCHOR_END: NAME` lines (whole lines holding only
# such a marker) are taken out of both crates before they are compared: they mark what
# the chapters include, they are not code, and a marker added or moved would otherwise
# show as a changed line. So the diffs are diffs of the crates without those lines, and
# the line numbers in their @@ headers count without them.
#
# Step07's chapter is spread over several pages, and each page shows the diff of its own
# modules against the stage before, so for step07 it also writes one diff per group of
# modules into book/src/diffs/step07/ (the groups are listed below: network.diff,
# init.diff, hardening.diff, main.diff, and other.diff for Cargo.toml and every file no
# other group takes). A file both stages have is `diff -u` of the two; a file new in
# step07 is diffed against /dev/null (all added). Test files (tests.rs, anything under
# tests/) and files that did not change are left out.
#
# --check: write nothing; exit 1 and name each stale, missing or extra diff (the per-module
# ones too) when the files in the book differ from a fresh run (CI runs this through
# scripts/check-book.sh).
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

# The stage crates, in order: step01-* .. step08-*, each a directory with a Cargo.toml.
stages=()
for n in 01 02 03 04 05 06 07 08; do
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

# The per-module diffs: for the stage named here, one diff per group. A group is its name,
# then the files it takes, as patterns relative to the crate, in the order they are shown
# (files matching one pattern in name order). A file goes to the first group that takes
# it; other's last pattern takes whatever is left. A page of the book includes each group.
module_stage=07
module_groups=(
    "network src/network.rs src/network/*"
    "init src/init.rs src/init/* src/signals.rs src/message.rs src/message/*"
    "hardening src/security.rs src/security/* src/seccomp.rs src/seccomp/* src/inroot.rs src/inroot/* src/rootfs.rs src/rootfs/*"
    "main src/main.rs"
    "other Cargo.toml *"
)

# A whole line holding only an mdBook anchor marker (`// ANCHOR: x`, `// ANCHOR_END: x`).
anchor_line='^[[:space:]]*//[[:space:]]*ANCHOR(_END)?:[[:space:]]*[A-Za-z0-9_-]+[[:space:]]*$'

# A copy of the crate $1 (but target/) in the folder $2/$1, anchor lines taken out.
copy_crate() {
    local file
    while IFS= read -r -d '' file; do
        file=${file#./}
        mkdir -p -- "$2/$1/$(dirname -- "$file")"
        sed -E "\#$anchor_line#d" -- "$1/$file" >"$2/$1/$file"
    done < <(cd -- "$1" && find . -name target -prune -o -type f -print0)
}

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

# diff -u of one file ($3, relative to the crates) between two crates ($1, $2), onto
# stdout; a file one crate lacks is /dev/null there. Labels in place of timestamps.
diff_file() {
    local old=$1/$3 new=$2/$3 status=0
    [[ -e $old ]] || old=/dev/null
    [[ -e $new ]] || new=/dev/null
    diff -u --label "$old" --label "$new" -- "$old" "$new" || status=$?
    if ((status > 1)); then
        printf 'error: diff -u %s %s failed (status %d)\n' "$old" "$new" "$status" >&2
        exit 2
    fi
}

# The per-module diffs of $2 against $1, one file per group, into the folder $3.
diff_modules() {
    local group pattern file
    local -a files patterns
    local -A taken=()
    # Both crates' files but target/, in name order (the tests are skipped below).
    mapfile -t files < <(
        for d in "$1" "$2"; do
            (cd -- "$d" && find . -name target -prune -o -type f -print)
        done | sed 's|^\./||' | sort -u
    )
    mkdir -p -- "$3"
    for group in "${module_groups[@]}"; do
        read -ra patterns <<<"$group"
        : >"$3/${patterns[0]}.diff"
        for pattern in "${patterns[@]:1}"; do
            for file in "${files[@]}"; do
                [[ ${file##*/} == tests.rs || $file == tests/* || $file == */tests/* ]] && continue
                [[ -n ${taken[$file]:-} ]] && continue
                # shellcheck disable=SC2053 # the pattern is a glob on purpose
                [[ $file == $pattern ]] || continue
                taken[$file]=1
                diff_file "$1" "$2" "$file" >>"$3/${patterns[0]}.diff"
            done
        done
    done
}

fresh=$(mktemp -d)
crates=$(mktemp -d)
trap 'rm -rf -- "$fresh" "$crates"' EXIT
for stage in "${stages[@]}"; do
    copy_crate "$stage" "$crates"
done
# The diffs are made in the folder of the copies, so that they name the crates as
# before (step05-pivot-root/src/main.rs), not the temporary folder.
cd "$crates"
wanted=()
for ((i = 1; i < ${#stages[@]}; i++)); do
    a=${stages[i - 1]} b=${stages[i]}
    name=${a%%-*}-${b%%-*}.diff
    wanted+=("$name")
    diff_pair "$a" "$b" "$fresh/$name"
    if [[ ${b%%-*} == step$module_stage ]]; then
        diff_modules "$a" "$b" "$fresh/${b%%-*}"
        for group in "${module_groups[@]}"; do
            wanted+=("${b%%-*}/${group%% *}.diff")
        done
    fi
done
cd "$root"

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
for f in "$out"/*.diff "$out"/*/*.diff; do
    [[ -e $f ]] || continue
    name=${f#"$out"/}
    [[ " ${wanted[*]} " == *" $name "* ]] && continue
    if ((check)); then
        printf '%s: extra: no pair of consecutive stages (nor a group of step07 modules) makes it; run scripts/diff-steps.sh\n' "$f"
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

# A folder of per-module diffs left empty by the removals above goes too.
for d in "$out"/*/; do
    if [[ -d $d ]]; then
        rmdir --ignore-fail-on-non-empty -- "$d"
    fi
done
for name in "${wanted[@]}"; do
    mkdir -p -- "$(dirname -- "$out/$name")"
    if cmp -s -- "$fresh/$name" "$out/$name" 2>/dev/null; then
        printf 'unchanged %s/%s\n' "$out" "$name"
    else
        cp -- "$fresh/$name" "$out/$name"
        printf 'wrote %s/%s\n' "$out" "$name"
    fi
done
