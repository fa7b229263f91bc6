#!/usr/bin/env bash
# check-book.sh - check that the book builds cleanly and agrees with the code.
#
# Fails, with one line per problem, when:
# - `mdbook build book` prints any warning or error, or fails (mdBook 0.5 only logs a
#   missing {{#include}} file as an error and still exits 0, hence the log is read);
# - an {{#include FILE:ANCHOR}} names a file or an anchor that does not exist (mdBook
#   silently includes nothing for a missing anchor);
# - a link between chapters ([x](file.md#heading)), or to a picture, leads nowhere: the
#   file must exist and the heading id must be in the page mdBook rendered;
# - a chapter under book/src is missing from SUMMARY.md;
# - the diffs in book/src/diffs are stale (scripts/diff-steps.sh --check);
# - a picture is stale (book/pictures/*.py --check), is not well-formed SVG, or
#   (when rsvg-convert is installed) does not render.
# The transcripts are checked by `cargo test` (tests/tests/book_transcripts.rs).
set -euo pipefail
export LC_ALL=C.UTF-8

root=$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
PATH=$PATH:$HOME/.cargo/bin
problems=0
problem() {
    printf '%s\n' "$*"
    problems=$((problems + 1))
}

if ! command -v mdbook >/dev/null 2>&1; then
    problem "mdbook: not installed (install it as the README says: cargo install mdbook --locked --version 0.5.4)"
    exit 1
fi

# --- 1. mdbook build: no warning, no error --------------------------------------------
out=$(mktemp -d)
trap 'rm -rf -- "$out"' EXIT
status=0
log=$(env -u RUST_LOG -u MDBOOK_LOG mdbook build book --dest-dir "$out/html" 2>&1) || status=$?
((status == 0)) || problem "mdbook build: exited with status $status"
while IFS= read -r line; do
    case $line in
    *WARN* | *ERROR* | *[Ee]rror:* | *[Ww]arning:*) problem "mdbook build: ${line#"${line%%[![:space:]]*}"}" ;;
    esac
done <<<"$log"

# --- 2. includes, anchors, links, SUMMARY ---------------------------------------------
while IFS= read -r line; do
    [[ -z $line ]] || problem "$line"
done < <(python3 - "$out/html" <<'PY'
import html.parser, os, re, sys
from pathlib import Path

src = Path("book/src")
built = Path(sys.argv[1])
problems = []

def code_free(text):
    """The markdown with fenced blocks and inline code blanked (line numbers kept)."""
    lines, fence = [], None
    for line in text.split("\n"):
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip()[len(m.group(1)):].strip():
                fence = None
            lines.append("")
            continue
        if m:
            fence = m.group(1)
            lines.append("")
            continue
        lines.append(re.sub(r"(`+)(?:(?!\1).)+?\1", "", line))
    return lines

# Heading ids of each rendered page.
class Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()
    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k == "id" and v:
                self.ids.add(v)
ids = {}
def page_ids(md):
    if md not in ids:
        page = built / md.relative_to(src).with_suffix(".html")
        p = Ids()
        if page.exists():
            p.feed(page.read_text())
        ids[md] = p.ids if page.exists() else None
    return ids[md]

chapters = sorted(p for p in src.rglob("*.md"))
summary = (src / "SUMMARY.md").read_text()
listed = {(src / t).resolve() for t in re.findall(r"\]\(([^)#\s]+\.md)", summary)}
directive = re.compile(r"(\\?)\{\{#(\w+)\s+([^}]*?)\s*\}\}")
link = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
refdef = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
htmlref = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")

# A page pulled into a chapter with {{#include}} (generated tables, say) needs
# no SUMMARY entry of its own.
included = set()
for md in chapters:
    for escaped, kind, arg in directive.findall(md.read_text()):
        if not escaped and kind == "include":
            included.add((md.parent / arg.split(":")[0]).resolve())

for md in chapters:
    rel = md.as_posix()
    text = md.read_text()
    if md.name != "SUMMARY.md" and md.resolve() not in listed | included:
        problems.append(f"{rel}: not in SUMMARY.md, so mdBook does not render it")
    # {{#include file:anchor}} and friends, in code blocks too (that is where they are).
    for n, line in enumerate(text.split("\n"), 1):
        for m in directive.finditer(line):
            escaped, kind, arg = m.groups()
            if escaped:
                continue
            if kind not in ("include", "rustdoc_include", "playground", "title"):
                problems.append(f"{rel}:{n}: unknown mdBook directive {{{{#{kind}}}}}")
                continue
            if kind == "title":
                continue
            target, _, anchor = arg.partition(":")
            path = (md.parent / target)
            if not path.is_file():
                problems.append(f"{rel}:{n}: {{{{#{kind} {arg}}}}}: no file {os.path.normpath(path)}")
                continue
            if anchor and not re.fullmatch(r"[\d:]*", anchor):
                body = path.read_text()
                name = re.escape(anchor)
                if not re.search(rf"ANCHOR:\s*{name}\b", body):
                    problems.append(f"{rel}:{n}: {{{{#{kind} {arg}}}}}: no `ANCHOR: {anchor}` in {os.path.normpath(path)}")
                elif not re.search(rf"ANCHOR_END:\s*{name}\b", body):
                    problems.append(f"{rel}:{n}: {{{{#{kind} {arg}}}}}: no `ANCHOR_END: {anchor}` in {os.path.normpath(path)}")
    # Links and images, outside code.
    for n, line in enumerate(code_free(text), 1):
        targets = [m.group(1) for m in link.finditer(line)]
        targets += [m.group(1) for m in htmlref.finditer(line)]
        m = refdef.match(line)
        if m:
            targets.append(m.group(1))
        for t in targets:
            if not t or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", t):
                continue  # external (https:, mailto:) or a draft chapter's empty link
            path_part, _, frag = t.partition("#")
            target = (md.parent / path_part).resolve() if path_part else md.resolve()
            try:
                target_rel = target.relative_to(src.resolve())
            except ValueError:
                problems.append(f"{rel}:{n}: link {t}: outside book/src")
                continue
            if not target.exists():
                problems.append(f"{rel}:{n}: link {t}: no file book/src/{target_rel.as_posix()}")
                continue
            if frag and target.suffix == ".md":
                found = page_ids(src / target_rel)
                if found is None:
                    problems.append(f"{rel}:{n}: link {t}: book/src/{target_rel.as_posix()} was not rendered")
                elif frag not in found:
                    problems.append(f"{rel}:{n}: link {t}: no heading #{frag} in book/src/{target_rel.as_posix()}")

print("\n".join(problems))
PY
)

# --- 3. generated files are fresh -----------------------------------------------------
while IFS= read -r line; do
    [[ -z $line ]] || problem "$line"
done < <(scripts/diff-steps.sh --check 2>&1 || true)
# Every picture script (make.py and the chapters' own) has a --check mode that
# prints one line per stale picture.
for script in book/pictures/*.py; do
    while IFS= read -r line; do
        [[ -z $line ]] || problem "$line"
    done < <(python3 "$script" --check 2>&1 || true)
done

# --- 4. pictures are well-formed, and render ------------------------------------------
for svg in book/src/pictures/*.svg; do
    [[ -e $svg ]] || continue
    if ! err=$(python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$svg" 2>&1); then
        problem "$svg: not well-formed SVG: ${err##*$'\n'}"
    elif command -v rsvg-convert >/dev/null 2>&1 && ! err=$(rsvg-convert "$svg" -o "$out/picture.png" 2>&1); then
        problem "$svg: does not render: $err"
    fi
done

if ((problems > 0)); then
    printf 'check-book: %d problem(s)\n' "$problems" >&2
    exit 1
fi
printf 'check-book: ok: the book builds without warnings; includes, anchors, links, diffs and pictures check out\n'
