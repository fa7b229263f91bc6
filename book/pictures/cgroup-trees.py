#!/usr/bin/env python3
"""Draw step06's three cgroup trees: book/src/pictures/cgroup-tree-{v1,v2,hybrid}.svg.

    python3 book/pictures/cgroup-trees.py          # write the SVGs
    python3 book/pictures/cgroup-trees.py --check  # exit 1, naming each SVG that is not what this draws

Each picture is /sys/fs/cgroup on one layout, as a tree of directories: on the left the
directory, in the middle what is mounted there (if anything), on the right the files that
matter. The container's cgroup is on blue; a mount point has a solid border, a plain
directory a thin one, what holds no controller is dashed. The colours, fonts and text
helper are make.py's, so the pictures match the stage pictures. The paths and values are
those step06 writes for `run --pids 20 --memory 64M --cpus 0.5`, by a runtime whose PID
is 4242. The output is plain SVG text, stable byte for byte.
"""
import sys
from pathlib import Path
from xml.sax.saxutils import escape

# Borrow make.py's palette and text helper (and leave no __pycache__ in the book).
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make import BLUE, BLUE_BG, GREY, GREY_BG, INK, text, write_or_check  # noqa: E402

ORANGE, ORANGE_BG = "#c98a1b", "#fdf3e1"

# A row: (depth, directory, mounted here, [lines of files or notes], style). Styles:
# "mount" a filesystem mounted here, "dir" a directory in its parent's filesystem,
# "cont" the container's cgroup, "empty" a mount that offers no controller,
# "more" stands for several rows not drawn.
PICTURES = {
    "cgroup-tree-v1.svg": dict(
        title="cgroup v1: one tree per controller",
        rows=[
            (0, "/sys/fs/cgroup/", "tmpfs", ["a plain directory of mount points"], "mount"),
            (1, "pids/", "cgroup -o pids", ["one hierarchy: only the pids controller"], "mount"),
            (2, "containers-from-scratch/", "", ["shared by all containers, never removed"], "dir"),
            (3, "c4242/", "", ["pids.max = 20", "tasks, cgroup.procs: the container"], "cont"),
            (1, "memory/", "cgroup -o memory", ["another hierarchy, another tree"], "mount"),
            (2, "containers-from-scratch/", "", [], "dir"),
            (3, "c4242/", "", ["memory.limit_in_bytes = 67108864", "memory.oom_control: oom_kill N"],
             "cont"),
            (1, "cpu/", "cgroup -o cpu", ["often co-mounted: cpu,cpuacct/"], "mount"),
            (2, "containers-from-scratch/", "", [], "dir"),
            (3, "c4242/", "", ["cpu.cfs_quota_us = 50000", "cpu.cfs_period_us = 100000"], "cont"),
            (1, "blkio/ devices/ freezer/ …", "cgroup -o …", ["no limit asked: the container stays at /"],
             "more"),
            (1, "systemd/", "cgroup -o name=systemd", ["no controller: systemd tracks services"],
             "empty"),
        ],
        footer=["The container is in three cgroups, one per hierarchy, all named c4242: the runtime",
                "makes a directory in each tree a limit needs and the process joins each one."],
    ),
    "cgroup-tree-v2.svg": dict(
        title="cgroup v2: one tree, every controller in it",
        rows=[
            (0, "/sys/fs/cgroup/", "cgroup2", ["cgroup.controllers: cpuset cpu io memory pids …",
                                              "cgroup.subtree_control: cpu memory pids"], "mount"),
            (1, "init.scope/ system.slice/ user.slice/", "", ["systemd's; your shell is in user.slice"],
             "more"),
            (1, "containers-from-scratch/", "", ["cgroup.subtree_control: cpu memory pids",
                                                 "cgroup.procs: empty, no internal processes"], "dir"),
            (2, "c4242/", "", ["pids.max = 20, memory.max = 67108864",
                               "memory.swap.max = 0, cpu.max = 50000 100000",
                               "cgroup.procs: the container",
                               "memory.events: oom_kill N"], "cont"),
            (2, "c4317/", "", ["another container, running at the same time"], "cont"),
        ],
        footer=["The container is in exactly one cgroup. A controller's files appear in a cgroup only",
                "when its parent lists the controller in cgroup.subtree_control: step06 writes it there."],
    ),
    "cgroup-tree-hybrid.svg": dict(
        title="hybrid: v1 controllers, and a cgroup2 with none at unified/",
        rows=[
            (0, "/sys/fs/cgroup/", "tmpfs", ["a plain directory of mount points"], "mount"),
            (1, "pids/", "cgroup -o pids", ["the controllers are all bound to v1 …"], "mount"),
            (2, "containers-from-scratch/c4242/", "", ["pids.max = 20"], "cont"),
            (1, "memory/", "cgroup -o memory", [], "mount"),
            (2, "containers-from-scratch/c4242/", "", ["memory.limit_in_bytes = 67108864"], "cont"),
            (1, "cpu/", "cgroup -o cpu", [], "mount"),
            (2, "containers-from-scratch/c4242/", "", ["cpu.cfs_quota_us = 50000"], "cont"),
            (1, "blkio/ devices/ freezer/ …", "cgroup -o …", [], "more"),
            (1, "systemd/", "cgroup -o name=systemd", ["v1 tracking tree, no controller"], "empty"),
            (1, "unified/", "cgroup2", ["… so cgroup.controllers here is empty:",
                                        "systemd tracks services, nothing to limit with"], "empty"),
        ],
        footer=["A controller is in one hierarchy at a time. Here they are in the v1 trees, so step06",
                "writes its limits there, exactly as on a v1 host, and leaves unified/ alone."],
    ),
}

# Each style's box: fill, border colour, border width, dashes.
STYLES = {
    "mount": (ORANGE_BG, ORANGE, 2, ""),
    "dir": ("#ffffff", GREY, 1.5, ""),
    "cont": (BLUE_BG, BLUE, 2, ""),
    "empty": (GREY_BG, GREY, 1.5, ' stroke-dasharray="6 4"'),
    "more": ("#ffffff", "#bbbbbb", 1, ' stroke-dasharray="3 3"'),
}

ROW_H = 44
LINE_H = 15


def row_height(row):
    return max(ROW_H, LINE_H * len(row[3]) + 16)


def picture_svg(pic):
    w = 920
    rows = pic["rows"]
    top = 86
    h = top + sum(row_height(r) for r in rows) + 22 + LINE_H * len(pic["footer"]) + 18
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(pic["title"])}">',
           f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
           text(20, 32, pic["title"], size=18, weight="bold"),
           text(20, 64, "directory", size=12, fill=GREY),
           text(372, 64, "mounted here", size=12, fill=GREY),
           text(560, 64, "what is in it", size=12, fill=GREY)]
    y = top
    placed = []  # (depth, y of the box's middle) of each drawn row, for the tree lines
    for depth, name, mount, notes, style in rows:
        rh = row_height((depth, name, mount, notes, style))
        box_y = y + (rh - 28) // 2
        x = 20 + depth * 24
        # The line from the nearest row above with a smaller depth: the parent.
        parent = next((p for p in reversed(placed) if p[0] < depth), None)
        if parent is not None:
            px = 20 + parent[0] * 24 + 10
            out.append(f'<path d="M{px} {parent[1] + 28} V{box_y + 14} H{x}" fill="none" '
                       f'stroke="{GREY}" stroke-width="1.5"/>')
        fill, stroke, width, dash = STYLES[style]
        bw = 340 - depth * 24
        out.append(f'<rect x="{x}" y="{box_y}" width="{bw}" height="28" rx="5" fill="{fill}" '
                   f'stroke="{stroke}" stroke-width="{width}"{dash}/>')
        out.append(text(x + 8, box_y + 19, name, size=12, mono=True,
                        fill=BLUE if style == "cont" else INK,
                        weight="bold" if style == "cont" else "normal"))
        if mount:
            out.append(text(372, box_y + 19, mount, size=12, mono=True,
                            fill=ORANGE if style != "more" else GREY))
        placed.append((depth, box_y))
        first = y + rh // 2 + 5 - (LINE_H * (len(notes) - 1)) // 2
        for i, note in enumerate(notes):
            out.append(text(560, first + i * LINE_H, note, size=12, mono=style == "cont",
                            fill=BLUE if style == "cont" else "#555555"))
        y += rh
    y += 22
    out.append(f'<line x1="20" y1="{y - 16}" x2="{w - 20}" y2="{y - 16}" stroke="#dddddd"/>')
    for i, line in enumerate(pic["footer"]):
        out.append(text(20, y + 4 + i * LINE_H, line, size=12))
    # The legend, right of the footer.
    lx = 560
    for style, label in (("mount", "a mount"), ("cont", "the container's cgroup"),
                         ("empty", "no controller")):
        fill, stroke, width, dash = STYLES[style]
        out.append(f'<rect x="{lx}" y="{y - 6}" width="14" height="12" rx="2" fill="{fill}" '
                   f'stroke="{stroke}" stroke-width="{width}"{dash}/>')
        out.append(text(lx + 20, y + 5, label, size=11, fill="#555555"))
        lx += 28 + int(len(label) * 6.2)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    write_or_check("cgroup-trees.py", ((name, picture_svg(pic)) for name, pic in PICTURES.items()))


if __name__ == "__main__":
    main()
