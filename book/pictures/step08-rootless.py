#!/usr/bin/env python3
"""Draw step08's pictures: book/src/pictures/step08-rootless.svg and step08-userns.svg.

    python3 book/pictures/step08-rootless.py          # write the SVGs
    python3 book/pictures/step08-rootless.py --check  # exit 1, naming each SVG that is not what this draws

step08-rootless.svg is the stage picture every stage chapter has, drawn by make.py's
stage_svg from an entry like those of its STAGES table. step08-userns.svg is the
chapter's own: the two views of one process's IDs, the host's on grey and the
container's on blue, joined by the lines of its uid_map. The IDs are the examples the
chapter uses (you are uid 1000, your range in /etc/subuid starts at 100000); the PIDs
are examples too. The colours, fonts and text helper are make.py's. The output is plain
SVG text, stable byte for byte.
"""
import sys
from pathlib import Path
from xml.sax.saxutils import escape

# Borrow make.py's palette, text helper and stage picture (and leave no __pycache__).
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make import BLUE, BLUE_BG, GREY, GREY_BG, INK, stage_svg, text, write_or_check  # noqa: E402

NOTE, DARK = "#555555", "#444444"

STAGE = dict(
    title="step08-rootless: the full runtime, without sudo",
    tree=[
        (0, "systemd", "1", None, False, ""),
        (1, "bash", "2100", None, False, "your shell: uid 1000, no sudo"),
        (2, "step08-rootless run sh …", "2301", None, False,
         "clone(NEWUSER|NEWPID|…), writes the maps, waits"),
        (3, "init", "2302", "1", True, "uid 0 inside, 1000 on the host: sets up, drops caps"),
        (4, "sh", "2303", "2", True, "the command: root inside, you outside"),
    ],
    own={"uts", "pid", "mnt", "ipc", "net", "user", "cgroup"},
    fs=["/      the rootfs, yours; /dev: the host's null, zero, … bound read-only",
        "/proc  its own; --net none by default (a bridge on the host takes root)"],
    limits="only in a cgroup v2 subtree delegated to you (Delegate=yes); else refused",
)


def rect(x, y, w, h, rx, fill, stroke, width, dash=""):
    dash = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"{dash}/>')


def arrow(d, colour, width=2, dash=""):
    dash = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width}"{dash} '
            f'marker-end="url(#to-{colour[1:]})"/>')


# (host IDs, who they are on the host, the uid_map line or None, container IDs, who inside)
ROWS = [
    ("1000", "you, the learner", "0 1000 1", "0", "root"),
    ("100000–165534", "your range in /etc/subuid", "1 100000 65535", "1–65535",
     "daemon, bin, …: the rootfs's other owners"),
    ("0, 1001, …", "root and everyone else", None, "65534 (the overflow ID)",
     "not mapped: shown as nobody"),
]


def userns_svg():
    w, h = 920, 560
    label = ("The IDs of one process, seen from the host and from the container. Host uid 1000, "
             "you, is uid 0, root, inside: the uid_map line 0 1000 1. With newuidmap, host IDs "
             "100000 to 165534, your range in /etc/subuid, are IDs 1 to 65535 inside: the line "
             "1 100000 65535. Every other host ID, root's included, is not mapped and shows "
             "inside as 65534, nobody. The command sh is PID 2303 and uid 1000 to the host, "
             "PID 2 and uid 0 to itself.")
    marks = "".join(
        f'<marker id="to-{c[1:]}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="{c}"/></marker>'
        for c in (BLUE, GREY))
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
         f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(label)}">',
         f"<defs>{marks}</defs>",
         f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
         text(20, 32, "One process, two views of its IDs", size=18, weight="bold")]
    # The two columns.
    lx, rx, bw = 20, 560, 340
    o.append(text(lx, 66, "The host's IDs (what ps and ls -ln show you)", size=14, weight="bold"))
    o.append(text(rx, 66, "The container's IDs (what id shows inside)", size=14, weight="bold",
                  fill=BLUE))
    top, row = 86, 82
    for i, (host, who, line, inside, whom) in enumerate(ROWS):
        y = top + i * row
        mapped = line is not None
        o.append(rect(lx, y, bw, 58, 8, GREY_BG, "#bbbbbb", 1.2))
        o.append(text(lx + 14, y + 25, host, size=15, weight="bold", mono=True))
        o.append(text(lx + 14, y + 45, who, size=12, fill=DARK))
        o.append(rect(rx, y, bw, 58, 8, BLUE_BG if mapped else "#ffffff",
                      BLUE if mapped else GREY, 2 if mapped else 1.2, "" if mapped else "5 3"))
        o.append(text(rx + 14, y + 25, inside, size=15, weight="bold", mono=True,
                      fill=BLUE if mapped else INK))
        o.append(text(rx + 14, y + 45, whom, size=12, fill=DARK))
        mid = y + 29
        if mapped:
            o.append(arrow(f"M{lx + bw + 4} {mid} H{rx - 6}", BLUE))
            o.append(f'<rect x="{lx + bw + 28}" y="{mid - 25}" width="{rx - lx - bw - 56}" '
                     f'height="20" rx="4" fill="#ffffff"/>')
            o.append(text((lx + bw + rx) // 2, mid - 10, line, size=13, weight="bold", mono=True,
                          fill=BLUE, anchor="middle"))
            o.append(text((lx + bw + rx) // 2, mid + 20,
                          "uid_map, line 1" if i == 0 else "line 2: newuidmap",
                          size=11, fill=NOTE, anchor="middle"))
        else:
            o.append(arrow(f"M{lx + bw + 4} {mid} H{rx - 6}", GREY, 1.5, "5 4"))
            o.append(text((lx + bw + rx) // 2, mid + 20, "no line: unmapped", size=11, fill=NOTE,
                          anchor="middle"))
    # What the three numbers of a line mean.
    y = top + len(ROWS) * row + 20
    o.append(f'<line x1="20" y1="{y - 8}" x2="{w - 20}" y2="{y - 8}" stroke="#dddddd"/>')
    o.append(text(lx, y + 18, "A line of /proc/PID/uid_map (gid_map alike):", size=14,
                  weight="bold"))
    nums = [("0", "first ID inside"), ("1000", "first ID on the host"), ("1", "how many")]
    for j, (n, what) in enumerate(nums):
        x = 390 + j * 170
        o.append(text(x, y + 20, n, size=20, weight="bold", mono=True, fill=BLUE,
                      anchor="middle"))
        o.append(text(x, y + 40, what, size=12, fill=DARK, anchor="middle"))
    o.append(text(lx, y + 40, "inside ID + k is host ID + k, for k below the count", size=12,
                  fill=NOTE))
    # The same process, both ways.
    y += 70
    o.append(f'<line x1="20" y1="{y - 8}" x2="{w - 20}" y2="{y - 8}" stroke="#dddddd"/>')
    o.append(text(lx, y + 18, "The command sh, asked from each side:", size=14, weight="bold"))
    o.append(rect(lx, y + 32, bw, 52, 8, GREY_BG, "#bbbbbb", 1.2))
    o.append(text(lx + 14, y + 54, "PID 2303, uid 1000", size=14, weight="bold", mono=True))
    o.append(text(lx + 14, y + 74, "ps -o pid=,uid= on the host", size=12, fill=DARK, mono=True))
    o.append(rect(rx, y + 32, bw, 52, 8, BLUE_BG, BLUE, 2))
    o.append(text(rx + 14, y + 54, "PID 2, uid 0", size=14, weight="bold", mono=True, fill=BLUE))
    o.append(text(rx + 14, y + 74, "echo $$; id -u inside", size=12, fill=DARK, mono=True))
    o.append(text((lx + bw + rx) // 2, y + 62, "one process", size=12, fill=NOTE,
                  anchor="middle"))
    o.append("</svg>")
    return "\n".join(o) + "\n"


PICTURES = {
    "step08-rootless.svg": lambda: stage_svg(STAGE),
    "step08-userns.svg": userns_svg,
}


def main():
    write_or_check("step08-rootless.py", ((name, draw()) for name, draw in PICTURES.items()))


if __name__ == "__main__":
    main()
