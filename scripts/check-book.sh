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
#   (when rsvg-convert is installed) does not render;
# - a diff is shown unfolded (the rule: every {{#include diffs/...}} is inside a
#   <details>), or the <summary> of a folded diff does not end in "(N lines)", N the
#   number of lines of the diff file(s) it folds, all of them (`wc -l`), as the reader
#   scrolls through them;
# - a chapter's reading time is missing or wrong: the line right under the title,
#   "*Reading time: about N minutes.*", N the words the page shows with nothing unfolded
#   (prose, listings and transcripts, included code counted; <details> and comments left
#   out, as ../shared/tools/staircase.py counts them) at 200 words a minute, rounded up;
# - in headless Chromium at 1280 px wide (the sidebar shown, as mdBook shows it there),
#   with every <details> open, a code block is wider than its box, so that it scrolls
#   sideways, unless it is one of overflow_exceptions below. Needs Chromium
#   (Debian: apt-get install chromium-headless-shell).
# The transcripts are checked by `cargo test` (tests/tests/book_transcripts.rs).
#
# --fix: first rewrite the "(N lines)" of every folded diff's summary and every chapter's
# reading-time line (added right under the title where there is none), then check.
set -euo pipefail
export LC_ALL=C.UTF-8

fix=0
case ${1:-} in
--fix) fix=1 ;;
"") ;;
-h | --help)
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' -- "${BASH_SOURCE[0]}"
    exit 0
    ;;
*)
    printf 'error: unknown argument: %s\nhint: usage: scripts/check-book.sh [--fix]\n' "$1" >&2
    exit 2
    ;;
esac

# Code blocks that may scroll sideways at 1280 px, one "PAGE|TEXT|REASON" each: PAGE the
# page (step04-chroot.html), TEXT a piece of the block's longest line, REASON why it
# cannot fit. Keep this list empty if at all possible: make the code fit instead.
overflow_exceptions=()

root=$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
PATH=$PATH:$HOME/.cargo/bin
problems=0
problem() {
    printf '%s\n' "$*"
    problems=$((problems + 1))
}

# The folded diffs' line counts and the reading times: `python3 -c "$chapters_py" check`
# prints one line per problem, `... fix` rewrites the chapters.
read -r -d '' chapters_py <<'PY' || true
import math, re, sys
from pathlib import Path

RATE = 200  # words a minute
src = Path("book/src")
fix = sys.argv[1] == "fix"
reading = re.compile(r"^\*Reading time: .*\*\s*$")
summary_re = re.compile(r"^(\s*<summary>)(.*?)(</summary>\s*)$")
count_re = re.compile(r"\s*\((\d+) lines?\)$")
directive = re.compile(r"(\\?)\{\{#include\s+([^}]*?)\s*\}\}")

def core_words(md, text):
    """The words a reader meets on the page unless they unfold something, counted as
    ../shared/tools/staircase.py counts them: included files by their included lines,
    <details> blocks and comments left out."""
    t = re.sub(r"<details>.*?</details>", " ", text, flags=re.S)
    def inc(m):
        f, _, anchor = m.group(1).strip().partition(":")
        try:
            body = (md.parent / f).read_text()
        except OSError:
            return " "
        if anchor and not anchor[0].isdigit():
            a = re.escape(anchor)
            mm = re.search(r"ANCHOR:\s*" + a + r"\b(.*?)ANCHOR_END:\s*" + a, body, re.S)
            return mm.group(1) if mm else " "
        return body
    t = re.sub(r"\{\{#(?:rustdoc_)?include\s+([^}]+)\}\}", inc, t)
    t = re.sub(r"<!--.*?-->", " ", t, flags=re.S)
    return len(re.findall(r"[A-Za-z0-9][\w'’-]*", t))

def reading_line(md, lines):
    body = "\n".join(l for l in lines if not reading.match(l))
    words = core_words(md, body)
    n = max(1, math.ceil(words / RATE))
    folded = ", not counting the folded parts" if "<details>" in body else ""
    return words, f"*Reading time: about {n} minute{'s' if n > 1 else ''}{folded}.*"

def diff_lines(md, arg):
    return len((md.parent / arg).read_text().splitlines())

summary = (src / "SUMMARY.md").read_text()
pages = sorted({(src / t) for t in re.findall(r"\]\(([^)#\s]+\.md)", summary)})
out = []
for md in pages:
    if not md.is_file():
        continue  # check 2 names it
    rel = md.as_posix()
    lines = md.read_text().split("\n")
    changed = False
    # Folded diffs: a stack of the open <details>, outside code fences; each entry is
    # [line of its <summary>, lines of the diffs it folds].
    stack, fence = [], None
    for i, line in enumerate(lines):
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip()[len(m.group(1)):].strip():
                fence = None
        elif m:
            fence = m.group(1)
        if not fence and not m:
            if re.match(r"^\s*<details\b", line):
                stack.append([None, 0])
            elif re.match(r"^\s*</details>", line) and stack:
                at, n = stack.pop()
                if n:
                    if at is None:
                        out.append(f"{rel}:{i + 1}: a folded diff has no <summary>: give it <summary>The whole diff ({n} lines)</summary>")
                        continue
                    pre, text, post = summary_re.match(lines[at]).groups()
                    c = count_re.search(text)
                    if c and int(c.group(1)) == n:
                        continue
                    if fix:
                        lines[at] = pre + count_re.sub("", text) + f" ({n} lines)" + post
                        changed = True
                    elif c:
                        out.append(f"{rel}:{at + 1}: the summary says {c.group(1)} lines, the diff it folds has {n}: write ({n} lines), or run scripts/check-book.sh --fix")
                    else:
                        out.append(f"{rel}:{at + 1}: the summary of a folded diff ends in its line count: add ({n} lines), or run scripts/check-book.sh --fix")
            elif stack and stack[-1][0] is None and summary_re.match(line):
                stack[-1][0] = i
        for esc, arg in directive.findall(line):
            target = arg.split(":")[0]
            if esc or not target.startswith("diffs/") or not (md.parent / target).is_file():
                continue
            if not stack:
                n = diff_lines(md, target)
                out.append(f"{rel}:{i + 1}: {target} is shown unfolded: fold every diff in <details> with <summary>The whole diff ({n} lines)</summary>")
            else:
                stack[-1][1] += diff_lines(md, target)
    # The reading time: the first line starting "*Reading time:" before the first
    # section, or none.
    if not lines or not lines[0].startswith("# "):
        out.append(f"{rel}:1: the page does not start with its title (# ...), so it has no place for its reading time")
    else:
        first_section = next((i for i, l in enumerate(lines) if l.startswith("## ")), len(lines))
        at = next((i for i in range(first_section) if reading.match(lines[i])), None)
        words, want = reading_line(md, lines)
        if at is not None and lines[at] == want:
            pass
        elif fix:
            if at is None:
                lines[1:1] = ["", want] if lines[1:2] == [""] else ["", want, ""]
            else:
                lines[at] = want
            changed = True
        elif at is None:
            out.append(f"{rel}:2: no reading time under the title: add {want} ({words} words shown unfolded), or run scripts/check-book.sh --fix")
        else:
            out.append(f"{rel}:{at + 1}: the reading time is wrong: the page shows {words} words unfolded, so: {want} (or run scripts/check-book.sh --fix)")
    if changed:
        md.write_text("\n".join(lines))
        print(f"fixed {rel}", file=sys.stderr)
print("\n".join(out))
PY

if ((fix)); then
    python3 -c "$chapters_py" fix >/dev/null
fi

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

# --- 5. folded diffs and their line counts; reading times -----------------------------
while IFS= read -r line; do
    [[ -z $line ]] || problem "$line"
done < <(python3 -c "$chapters_py" check)

# --- 6. code fits the page at 1280 px -------------------------------------------------
# Every page, in headless Chromium driven over its DevTools pipe (no extra Python
# package): a 1280 x 900 window with a scroll bar, mdBook's own fonts, every <details>
# opened, font hinting off (so text is as wide as on a Mac, not rounded down to whole
# pixels). A block overflows when its <code> or <pre> is wider inside than its box.
chromium=
for c in chromium-headless-shell chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then
        chromium=$c
        break
    fi
done
if [[ -z $chromium ]]; then
    problem "error: code fits the page: no headless Chromium to measure the pages with"
    problem "hint: install it: sudo apt-get install chromium-headless-shell (Debian; or chromium)"
else
    fit_summary=$(mktemp -p "$out")
    while IFS= read -r line; do
        [[ -z $line ]] || problem "$line"
    done < <(python3 - "$chromium" "$out/html" "$fit_summary" "${overflow_exceptions[@]}" <<'PY'
import json, os, re, select, shutil, subprocess, sys, tempfile, time
from pathlib import Path

chromium, built, summary_file = sys.argv[1], Path(sys.argv[2]).resolve(), sys.argv[3]
exceptions = [e.split("|", 2) for e in sys.argv[4:]]
WIDTH, HEIGHT, TIMEOUT = 1280, 900, 60
pages = sorted(p for p in built.rglob("*.html")
               if p.name not in ("print.html", "toc.html", "404.html", "index.html"))

def fences(md):
    """The first line of each fenced code block of a chapter (1-based), in order."""
    starts, fence = [], None
    for n, line in enumerate(md.read_text().split("\n"), 1):
        m = re.match(r"^\s*(`{3,}|~{3,})", line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip()[len(m.group(1)):].strip():
                fence = None
        elif m:
            fence = m.group(1)
            starts.append(n)
    return starts

# Chromium reads DevTools commands from fd 3 and writes answers to fd 4, each a JSON
# text ended by a NUL byte.
to_chrome, from_chrome = os.pipe(), os.pipe()
def child_fds():
    a, b = os.dup(to_chrome[0]), os.dup(from_chrome[1])
    while a < 5 or b < 5:
        a, b = (os.dup(a) if a < 5 else a), (os.dup(b) if b < 5 else b)
    os.dup2(a, 3)
    os.dup2(b, 4)
profile = tempfile.mkdtemp()
log = open(os.path.join(profile, "stderr"), "w+b")
try:
    browser = subprocess.Popen(
        [chromium, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
         "--font-render-hinting=none", "--no-first-run", f"--user-data-dir={profile}",
         f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
        preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=log)
except OSError as e:
    print(f"error: code fits the page: cannot start {chromium}: {e.strerror}")
    print("hint: install it: sudo apt-get install chromium-headless-shell (Debian; or chromium)")
    shutil.rmtree(profile, ignore_errors=True)
    sys.exit()
os.close(to_chrome[0])
os.close(from_chrome[1])
buf, queue, last = b"", [], 0

def wait(pred):
    global buf
    end = time.monotonic() + TIMEOUT
    while True:
        while b"\0" in buf:
            raw, _, buf = buf.partition(b"\0")
            queue.append(json.loads(raw))
        for i, msg in enumerate(queue):
            if pred(msg):
                return queue.pop(i)
        left = end - time.monotonic()
        if left <= 0 or not select.select([from_chrome[0]], [], [], left)[0]:
            raise RuntimeError(f"no answer from {chromium} in {TIMEOUT} s")
        data = os.read(from_chrome[0], 1 << 20)
        if not data:
            log.seek(0)
            raise RuntimeError(f"{chromium} exited: " + log.read().decode(errors="replace")[-300:])
        buf += data

def send(method, params=None, session=None):
    global last
    last += 1
    msg = {"id": last, "method": method, "params": params or {}}
    if session:
        msg["sessionId"] = session
    os.write(to_chrome[1], json.dumps(msg).encode() + b"\0")
    answer = wait(lambda m, n=last: m.get("id") == n)
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]

MEASURE = r"""
(async () => {
  await document.fonts.ready;
  for (const d of document.querySelectorAll('main details')) d.open = true;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const blocks = [];
  for (const pre of document.querySelectorAll('main pre')) {
    const code = pre.querySelector('code') || pre;
    const over = Math.max(code.scrollWidth - code.clientWidth, pre.scrollWidth - pre.clientWidth);
    let heading = '', el = pre;
    for (; el && !heading; el = el.previousElementSibling || el.parentElement)
      if (/^H[1-6]$/.test(el.tagName) && el.id) heading = el.id;
    const lines = code.innerText.split('\n');
    const longest = lines.reduce((a, b) => b.length > a.length ? b : a, '');
    const lang = ([...code.classList].find(c => c.startsWith('language-')) || 'language-none').slice(9);
    blocks.push({over, heading, longest, lang, width: code.clientWidth});
  }
  return JSON.stringify({blocks, sidebar: document.documentElement.classList.contains('sidebar-visible'),
                         column: document.querySelector('main').clientWidth});
})()
"""

out, total, overflowing, per_page = [], 0, 0, []
try:
    target = send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    send("Page.enable", session=session)
    send("Emulation.setDeviceMetricsOverride",
         {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False}, session=session)
    for page in pages:
        rel = page.relative_to(built).as_posix()
        queue[:] = [m for m in queue if m.get("method") != "Page.loadEventFired"]
        send("Page.navigate", {"url": page.as_uri()}, session=session)
        wait(lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == session)
        res = send("Runtime.evaluate", {"expression": MEASURE, "awaitPromise": True,
                                        "returnByValue": True}, session=session)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{rel}: {res['exceptionDetails'].get('text')}")
        res = json.loads(res["result"]["value"])
        if not res["sidebar"]:
            out.append(f"code fits the page: {rel}: the sidebar is hidden at {WIDTH} px, so the page is not measured as mdBook shows it")
        md = Path("book/src") / Path(rel).with_suffix(".md")
        starts = fences(md) if md.is_file() else []
        if len(starts) != len(res["blocks"]):
            starts = []
        bad = 0
        for i, b in enumerate(res["blocks"]):
            total += 1
            if b["over"] <= 0:
                continue
            if any(rel == p and text in b["longest"] for p, text, *_ in exceptions):
                continue
            bad += 1
            where = f"book/src/{Path(rel).with_suffix('.md').as_posix()}:{starts[i]}" if starts else f"{rel}#{b['heading']}"
            line = b["longest"].strip()
            line = line if len(line) <= 70 else line[:67] + "..."
            out.append(f"{where}: a {b['lang']} block scrolls sideways at {WIDTH} px: {b['over']} px too wide "
                       f"for its {b['width']} px box; its longest line ({len(b['longest'])} characters) is: {line}")
        overflowing += bad
        if bad:
            per_page.append(f"{rel} {bad} of {len(res['blocks'])}")
    Path(summary_file).write_text(f"{total} code blocks on {len(pages)} pages, {overflowing} too wide, "
                                  f"the column {res['column']} px\n")
except (RuntimeError, OSError, KeyError, ValueError) as e:
    out.append(f"error: code fits the page: {e}")
    out.append(f"hint: run {chromium} --headless --remote-debugging-pipe by hand to see why it fails")
finally:
    browser.kill()
    browser.wait()
    shutil.rmtree(profile, ignore_errors=True)
if overflowing:
    out.append(f"code fits the page: {overflowing} of {total} code blocks too wide: " + ", ".join(per_page))
    out.append("hint: fit them: wrap the line in the crate (rustfmt leaves long strings alone), or "
               "list the block in overflow_exceptions in scripts/check-book.sh with the reason")
print("\n".join(out))
PY
)
fi

if ((problems > 0)); then
    printf 'check-book: %d problem(s)\n' "$problems" >&2
    exit 1
fi
printf 'check-book: ok: the book builds without warnings; includes, anchors, links, diffs, line counts, reading times and pictures check out; code fits the page: %s\n' "$(cat -- "$fit_summary")"
