#!/usr/bin/env python3
"""Draw the mount-tree pictures of step04 and step05: book/src/pictures/mount-tree-*.svg.

    python3 book/pictures/mount-trees.py          # write the SVGs
    python3 book/pictures/mount-trees.py --check  # exit 1, naming each SVG that is not what this draws

Each picture shows the container's mount namespace as panels, one per moment of the
runtime's work (before and after), as trees of mounts: a mount the container made on blue,
one copied from the host on grey, a plain directory (not a mount) dashed, a mount that is
gone crossed out. The colours, fonts and text helper are make.py's, so the pictures match
the stage pictures. The output is plain SVG text, stable byte for byte.
"""
import sys
from pathlib import Path
from xml.sax.saxutils import escape

# Borrow make.py's palette and text helper (and leave no __pycache__ in the book).
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make import BLUE, BLUE_BG, GREY, GREY_BG, INK, text, write_or_check  # noqa: E402

# A row of a tree: (depth, path, what it is, style). Styles: "cont" a mount the container
# made, "host" a mount copied from the host, "dir" a directory that is not a mount,
# "gone" a mount that has been detached. A row whose path starts with "*" is where the
# process's root is (the star is not drawn).
PICTURES = {
    "mount-tree-step04.svg": dict(
        title="step04: the container's mount namespace, before and after chroot",
        panels=[
            dict(
                heading="1. after unshare(CLONE_NEWNS)",
                sub="a copy of the host's tree; then MS_REC|MS_PRIVATE",
                rows=[
                    (0, "*/", "the host's disk", "host"),
                    (1, "/proc", "proc: the host's PID namespace", "host"),
                    (1, "/sys", "sysfs", "host"),
                    (1, "/dev", "devtmpfs: every device, disks too", "host"),
                    (1, "/home/you/…/rootfs", "a directory on /, not a mount", "dir"),
                ],
            ),
            dict(
                heading="2. after chroot(rootfs) and mount /proc",
                sub="the same tree: the root moved, nothing was removed",
                rows=[
                    (0, "/", "the host's disk: still mounted", "host"),
                    (1, "/proc", "the host's proc: still mounted", "host"),
                    (1, "/sys", "sysfs: still mounted", "host"),
                    (1, "/dev", "every device: still mounted", "host"),
                    (1, "*/home/you/…/rootfs", "the container's /, by chroot", "dir"),
                    (2, "…/rootfs/proc", "proc: the container's PID namespace", "cont"),
                ],
            ),
        ],
        footer=["Above the container's / the host's mounts are all still there, hidden only by chroot:",
                "a root process that gets its working directory outside its root climbs back to them (step05)."],
    ),
    "mount-tree-step05.svg": dict(
        title="step05: the container's mount namespace, before and after pivot_root",
        panels=[
            dict(
                heading="1. before pivot_root",
                sub="rootfs bind-mounted, /proc and /dev in it",
                rows=[
                    (0, "*/", "the host's disk", "host"),
                    (1, "/proc  /sys  /dev  …", "the host's mounts", "host"),
                    (1, "…/rootfs", "bind mount of itself", "cont"),
                    (2, "…/rootfs/proc", "proc: the container's", "cont"),
                    (2, "…/rootfs/dev", "tmpfs, 64k", "cont"),
                    (3, "null zero … tty", "bind mounts of host nodes", "cont"),
                    (3, "pts", "devpts, newinstance", "cont"),
                    (3, "shm", "tmpfs", "cont"),
                ],
            ),
            dict(
                heading="2. after pivot_root(\".\", put_old)",
                sub="the rootfs is the top; the old root hangs below",
                rows=[
                    (0, "*/", "the rootfs mount", "cont"),
                    (1, "/proc", "proc: the container's", "cont"),
                    (1, "/dev", "null zero … pts shm", "cont"),
                    (2, "/dev/.pivot_root.XXXXXX", "put_old: the host's old /", "host"),
                    (3, "…/proc  …/sys  …/dev", "the host's mounts", "host"),
                ],
            ),
            dict(
                heading="3. after umount2(MNT_DETACH)",
                sub="of put_old, then rmdir(put_old): no host mount left",
                rows=[
                    (0, "*/", "the rootfs mount", "cont"),
                    (1, "/proc", "proc: the container's", "cont"),
                    (1, "/dev", "null zero … pts shm", "cont"),
                    (2, "/dev/.pivot_root.XXXXXX", "detached, directory removed", "gone"),
                ],
            ),
        ],
        footer=["At the top of a mount tree, \"..\" is the top itself: from the container's / there is",
                "nowhere to climb, and no mount in the namespace holds the host's files any more."],
    ),
}

ROW_H = 46


def panel_svg(x, y, w, panel):
    out = [text(x, y, panel["heading"], size=13, weight="bold", mono=True),
           text(x, y + 18, panel["sub"], size=11, fill="#555555")]
    top = y + 34
    rows = panel["rows"]
    for i, (depth, path, what, style) in enumerate(rows):
        ry = top + i * ROW_H
        rx = x + 6 + depth * 16
        # The tree's lines: from the nearest row above with a smaller depth.
        if depth > 0:
            parent = max(j for j in range(i) if rows[j][0] < depth)
            px = x + 6 + rows[parent][0] * 16 + 6
            out.append(f'<path d="M{px} {top + parent * ROW_H + 24} V{ry + 12} H{rx}" fill="none" '
                       f'stroke="{GREY}" stroke-width="1.2"/>')
        is_root = path.startswith("*")
        path = path.lstrip("*")
        fill, stroke, dash, ink = {
            "cont": (BLUE_BG, BLUE, "", INK),
            "host": (GREY_BG, GREY, "", INK),
            "dir": ("#ffffff", GREY, ' stroke-dasharray="5 3"', INK),
            "gone": ("#ffffff", "#c0c0c0", ' stroke-dasharray="2 3"', "#9a9a9a"),
        }[style]
        bw = w - 12 - depth * 16
        if is_root:
            stroke, width = BLUE, 2.5
        else:
            width = 1.5 if style == "cont" else 1.2
        out.append(f'<rect x="{rx}" y="{ry}" width="{bw}" height="24" rx="5" fill="{fill}" '
                   f'stroke="{stroke}" stroke-width="{width}"{dash}/>')
        out.append(text(rx + 8, ry + 16, path, size=12, mono=True, fill=ink))
        if is_root:
            out.append(text(rx + bw - 8, ry + 16, "process root", size=11, weight="bold",
                            fill=BLUE, anchor="end"))
        if style == "gone":
            out.append(f'<line x1="{rx + 6}" y1="{ry + 12}" x2="{rx + bw - 6}" y2="{ry + 12}" '
                       f'stroke="#9a9a9a" stroke-width="1.2"/>')
        out.append(text(rx + 14, ry + 38, what, size=11, fill="#555555"))
    return out, top + len(rows) * ROW_H


def picture_svg(pic):
    panels = pic["panels"]
    w = 920
    gap = 20
    pw = (w - 40 - gap * (len(panels) - 1)) // len(panels)
    body = []
    bottom = 0
    for i, panel in enumerate(panels):
        px = 20 + i * (pw + gap)
        rows, end = panel_svg(px, 66, pw, panel)
        body += rows
        bottom = max(bottom, end)
    # A line between panels, as tall as the tallest one.
    for i in range(1, len(panels)):
        lx = 20 + i * (pw + gap) - gap // 2
        body.append(f'<line x1="{lx}" y1="56" x2="{lx}" y2="{bottom}" stroke="#dddddd"/>')
    fy = bottom + 24
    body.append(f'<line x1="20" y1="{fy - 16}" x2="{w - 20}" y2="{fy - 16}" stroke="#dddddd"/>')
    for i, line in enumerate(pic["footer"]):
        body.append(text(20, fy + 6 + i * 18, line, size=12))
    # Legend.
    ly = fy + 6 + len(pic["footer"]) * 18 + 12
    x = 20
    used = {row[3] for panel in panels for row in panel["rows"]}
    for style, label, fill, stroke, dash in [
        ("cont", "a mount the container made", BLUE_BG, BLUE, ""),
        ("host", "a mount copied from the host", GREY_BG, GREY, ""),
        ("dir", "a directory, not a mount", "#ffffff", GREY, ' stroke-dasharray="5 3"'),
        ("gone", "detached", "#ffffff", "#c0c0c0", ' stroke-dasharray="2 3"'),
    ]:
        if style not in used:
            continue
        body.append(f'<rect x="{x}" y="{ly - 11}" width="22" height="14" rx="3" fill="{fill}" '
                    f'stroke="{stroke}" stroke-width="1.2"{dash}/>')
        body.append(text(x + 30, ly, label, size=11, fill="#555555"))
        x += 40 + len(label) * 6 + 16
    h = ly + 18
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(pic["title"])}">',
            f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
            text(20, 32, pic["title"], size=18, weight="bold")]
    return "\n".join(head + body + ["</svg>"]) + "\n"


def main():
    write_or_check("mount-trees.py", ((name, picture_svg(pic)) for name, pic in PICTURES.items()))


if __name__ == "__main__":
    main()
