#!/usr/bin/env python3
"""Draw the book's pictures: book/src/pictures/*.svg.

    python3 book/pictures/make.py          # write the SVGs
    python3 book/pictures/make.py --check  # exit 1, naming each SVG that is not what this draws

Every stage chapter has the same picture, so a reader can compare them: on the left the
process tree as the host sees it, the processes inside the container on blue; on the
right the seven namespaces, each either the container's own or the host's; at the
bottom what the container's filesystem and limits are. A new stage adds an entry to
STAGES and runs this script. The output is plain SVG text, stable byte for byte.
"""
import sys
from pathlib import Path
from xml.sax.saxutils import escape

OUT = Path(__file__).resolve().parent.parent / "src" / "pictures"

BLUE, BLUE_BG, GREY, GREY_BG, INK = "#1f6fb2", "#e4f0fb", "#8a8a8a", "#f1f1f1", "#222222"
FONT = "font-family=\"DejaVu Sans, Verdana, sans-serif\""
MONO = "font-family=\"DejaVu Sans Mono, Menlo, monospace\""

NAMESPACES = [
    ("uts", "hostname"),
    ("pid", "process IDs"),
    ("mnt", "mount table"),
    ("ipc", "SysV IPC, message queues"),
    ("net", "interfaces, ports, routes"),
    ("user", "user and group IDs"),
    ("cgroup", "view of /sys/fs/cgroup"),
]

# Each process: (depth, label, host PID, PID inside or None, inside the container?, note).
# The PIDs are examples; what matters is which numbers differ.
STAGES = {
    "step01-uts": dict(
        title="step01-uts: a hostname of its own",
        tree=[
            (0, "systemd", "1", None, False, ""),
            (1, "bash", "2100", None, False, "your shell"),
            (2, "step01-uts run sh …", "2301", None, False, "fork(); unshare(UTS) in the child"),
            (3, "sh -c 'hostname box; …'", "2302", None, True, "hostname box: only here"),
        ],
        own={"uts"},
        fs=["/      the host's root filesystem", "/proc  the host's: ps lists every process"],
        limits="no limits: the host's cgroup",
    ),
    "step02-self-exec": dict(
        title="step02-self-exec: the runtime runs itself again",
        tree=[
            (0, "systemd", "1", None, False, ""),
            (1, "bash", "2100", None, False, "your shell"),
            (2, "step02-self-exec run hostname", "2301", None, False, "waits, reports the status"),
            (3, "/proc/self/exe child …", "2302", None, True, "sethostname(\"container\"), then execvp()"),
            (3, "hostname", "2302", None, True, "the same process, now running hostname"),
        ],
        own={"uts"},
        fs=["/      the host's root filesystem", "/proc  the host's: ps lists every process"],
        limits="no limits: the host's cgroup",
    ),
    "step03-pid": dict(
        title="step03-pid: PID 1",
        tree=[
            (0, "systemd", "1", None, False, ""),
            (1, "bash", "2100", None, False, "your shell"),
            (2, "step03-pid run sh …", "2301", None, False, "unshare(PID), then fork()"),
            (3, "sh", "2302", "1", True, "PID 1 inside: /proc/self/exe child, then exec"),
            (4, "ps", "2303", "2", True, "reads /proc: the host's"),
        ],
        own={"uts", "pid"},
        fs=["/      the host's root filesystem",
            "/proc  still the host's: ps lists the host's processes, PID 1 is systemd"],
        limits="no limits: the host's cgroup",
    ),
    "step04-chroot": dict(
        title="step04-chroot: a root filesystem with chroot",
        tree=[
            (0, "systemd", "1", None, False, ""),
            (1, "bash", "2100", None, False, "your shell"),
            (2, "step04-chroot run sh …", "2301", None, False, "unshare(PID); fork(); unshare(UTS|NS) in the child"),
            (3, "sh", "2302", "1", True, "PID 1: mounts private, chroot, mount /proc, exec"),
            (4, "ps", "2303", "2", True, "reads the container's /proc: sh and ps only"),
        ],
        own={"uts", "pid", "mnt"},
        fs=["/      rootfs/ by chroot; the host's mounts are still in the namespace, hidden",
            "/proc  the container's own: ps lists only the container's processes"],
        limits="no limits: the host's cgroup",
    ),
    "step05-pivot-root": dict(
        title="step05-pivot-root: pivot_root",
        tree=[
            (0, "systemd", "1", None, False, ""),
            (1, "bash", "2100", None, False, "your shell"),
            (2, "step05-pivot-root run sh …", "2301", None, False, "unshare(PID); fork(); unshare(UTS|NS) in the child"),
            (3, "sh", "2302", "1", True, "PID 1: mounts /proc and /dev, pivot_root, exec"),
            (4, "ps", "2303", "2", True, "reads the container's /proc: sh and ps only"),
        ],
        own={"uts", "pid", "mnt"},
        fs=["/      rootfs/ by pivot_root; the host's old root detached: no host mount left",
            "/proc  the container's own; /dev a tmpfs: null zero full random urandom tty pts shm"],
        limits="no limits: the host's cgroup",
    ),
    "step06-cgroups": dict(
        title="step06-cgroups: cgroup limits",
        tree=[
            (0, "systemd", "1", None, False, ""),
            (1, "bash", "2100", None, False, "your shell"),
            (2, "step06-cgroups run --pids 20 …", "2301", None, False, "makes the cgroup c2301, waits, removes it"),
            (3, "sh", "2302", "1", True, "PID 1: joins c2301 before exec, then pivot_root"),
            (4, "sleep", "2303", "2", True, "born in c2301: pids.current counts it"),
        ],
        own={"uts", "pid", "mnt"},
        fs=["/      rootfs/ by pivot_root, as in step05",
            "/proc  the container's own; /dev minimal; no /sys/fs/cgroup inside"],
        limits="/sys/fs/cgroup/…/containers-from-scratch/c2301: pids.max, memory.max, cpu.max (or v1 names)",
    ),
    "step07-full": dict(
        title="step07-full: the full runtime",
        tree=[
            (0, "systemd", "1", None, False, ""),
            (1, "bash", "2100", None, False, "your shell"),
            (2, "step07-full run sh …", "2301", None, False, "cgroup, cfs0, veth pair; forwards SIGTERM"),
            (3, "init", "2302", "1", True, "/proc/self/exe child: sets up, drops caps, reaps"),
            (4, "sh", "2303", "2", True, "the command, with 13 capabilities"),
        ],
        own={"uts", "pid", "mnt", "ipc", "net", "cgroup"},
        fs=["/      the rootfs (pivot_root); /proc its own, /proc/sys and /sys read-only",
            "/dev   its own nodes; /proc/keys, /proc/kpageflags, /sys/firmware … masked"],
        limits="--memory, --pids, --cpus: a cgroup of its own (step06)",
    ),
}


def text(x, y, s, size=13, weight="normal", fill=INK, anchor="start", mono=False):
    family = MONO if mono else FONT
    return (f'<text x="{x}" y="{y}" {family} font-size="{size}" font-weight="{weight}" '
            f'fill="{fill}" text-anchor="{anchor}">{escape(s)}</text>')


def stage_svg(stage):
    w, h = 920, 500
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(stage["title"])}">',
           '<defs><marker id="exec" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
           f'markerHeight="6" orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="{BLUE}"/></marker></defs>',
           f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
           text(20, 32, stage["title"], size=18, weight="bold")]
    # Left: the process tree, as the host sees it.
    out.append(text(20, 64, "Processes, as the host sees them", size=14, weight="bold"))
    out.append(text(360, 82, "host PID", size=11, fill=GREY, anchor="end"))
    out.append(text(440, 82, "PID inside", size=11, fill=GREY, anchor="end"))
    row_h, top = 56, 92
    rows = stage["tree"]
    inside = [i for i, r in enumerate(rows) if r[4]]
    if inside:
        y0 = top + inside[0] * row_h - 6
        y1 = top + (inside[-1] + 1) * row_h - 8
        out.append(f'<rect x="14" y="{y0}" width="440" height="{y1 - y0}" rx="10" '
                   f'fill="{BLUE_BG}" stroke="{BLUE}" stroke-width="2" stroke-dasharray="7 4"/>')
        out.append(text(446, y1 - 8, "container", size=12, weight="bold", fill=BLUE, anchor="end"))
    for i, (depth, label, hpid, ipid, is_in, note) in enumerate(rows):
        y = top + i * row_h
        x = 26 + depth * 18
        colour = BLUE if is_in else GREY
        if i > 0 and rows[i - 1][0] == depth and rows[i - 1][2] == hpid:
            # The same process after execve(2): an arrow, not a branch of the tree.
            out.append(f'<path d="M{x + 40} {y - row_h + 44} V{y - 2}" fill="none" stroke="{BLUE}" '
                       f'stroke-width="1.5" stroke-dasharray="4 3" marker-end="url(#exec)"/>')
        elif i > 0:
            px = 26 + rows[i - 1][0] * 18 + 8
            out.append(f'<path d="M{px} {y - row_h + 26} V{y + 12} H{x}" fill="none" '
                       f'stroke="{GREY}" stroke-width="1.5"/>')
        out.append(f'<rect x="{x}" y="{y}" width="{270 - depth * 18}" height="24" rx="5" '
                   f'fill="#ffffff" stroke="{colour}" stroke-width="1.5"/>')
        out.append(text(x + 8, y + 17, label, size=12, mono=True))
        out.append(text(360, y + 17, hpid, size=12, mono=True, anchor="end"))
        out.append(text(440, y + 17, ipid or "", size=12, mono=True, fill=BLUE, weight="bold",
                        anchor="end"))
        if note:
            out.append(text(x + 8, y + 40, note, size=11, fill="#555555"))
    # Right: the namespaces.
    nx = 478
    out.append(text(nx, 64, "Namespaces", size=14, weight="bold"))
    for i, (ns, what) in enumerate(NAMESPACES):
        y = 92 + i * 38
        own = ns in stage["own"]
        out.append(f'<rect x="{nx}" y="{y}" width="430" height="30" rx="6" '
                   f'fill="{BLUE_BG if own else GREY_BG}" stroke="{BLUE if own else "#cccccc"}" '
                   f'stroke-width="{2 if own else 1}"/>')
        out.append(text(nx + 12, y + 20, ns, size=13, weight="bold", mono=True,
                        fill=BLUE if own else INK))
        out.append(text(nx + 80, y + 20, what, size=12))
        out.append(text(nx + 420, y + 20, "the container's own" if own else "the host's",
                        size=12, weight="bold" if own else "normal",
                        fill=BLUE if own else GREY, anchor="end"))
    # Bottom: filesystem and limits.
    by = 400
    out.append(f'<line x1="20" y1="{by - 14}" x2="{w - 20}" y2="{by - 14}" stroke="#dddddd"/>')
    out.append(text(20, by + 6, "Filesystem", size=14, weight="bold"))
    for i, line in enumerate(stage["fs"]):
        out.append(text(130, by + 6 + i * 22, line, size=12, mono=True))
    out.append(text(20, by + 6 + 2 * 22 + 10, "Limits", size=14, weight="bold"))
    out.append(text(130, by + 6 + 2 * 22 + 10, stage["limits"], size=12, mono=True))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def container_svg():
    """The opening chapter's picture: what a container is made of."""
    w, h = 900, 520
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
         f'role="img" aria-label="A container: namespaces, cgroups and a root filesystem on one kernel">',
         f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
         text(20, 32, "A container is an ordinary process, with three things around it", size=18,
              weight="bold")]
    # Two containers and a plain process on one host.
    def box(x, title, hostname, procs, fs, limit):
        o.append(f'<rect x="{x}" y="60" width="270" height="300" rx="12" fill="{BLUE_BG}" '
                 f'stroke="{BLUE}" stroke-width="2"/>')
        o.append(text(x + 14, 84, title, size=14, weight="bold", fill=BLUE))
        # namespaces: what it sees
        o.append(text(x + 14, 110, "namespaces: what it can see", size=12, weight="bold"))
        o.append(text(x + 24, 130, f"hostname  {hostname}", size=12, mono=True))
        for i, p in enumerate(procs):
            o.append(text(x + 24, 150 + i * 18, p, size=12, mono=True))
        # root filesystem
        y = 150 + len(procs) * 18 + 14
        o.append(text(x + 14, y, "root filesystem: what files it has", size=12, weight="bold"))
        o.append(text(x + 24, y + 20, fs, size=12, mono=True))
        # cgroup
        y += 48
        o.append(text(x + 14, y, "cgroup: how much it may use", size=12, weight="bold"))
        o.append(f'<rect x="{x + 24}" y="{y + 10}" width="200" height="14" rx="3" fill="#ffffff" '
                 f'stroke="{GREY}"/>')
        o.append(f'<rect x="{x + 24}" y="{y + 10}" width="{limit}" height="14" rx="3" '
                 f'fill="{BLUE}"/>')
        o.append(text(x + 232, y + 22, "max", size=11, fill=GREY))
        o.append(text(x + 24, y + 44, "memory, CPU, number of processes", size=11, fill="#555555"))

    box(20, "container \"web\"", "web", ["PID 1  nginx", "PID 7  nginx worker"], "/ = alpine tree", 120)
    box(310, "container \"db\"", "db", ["PID 1  postgres", "PID 30 postgres: writer"],
        "/ = debian tree", 170)
    # A plain host process.
    o.append(f'<rect x="600" y="60" width="280" height="300" rx="12" fill="{GREY_BG}" '
             f'stroke="#bbbbbb" stroke-width="1.5" stroke-dasharray="6 4"/>')
    o.append(text(614, 84, "the host's own processes", size=14, weight="bold", fill="#555555"))
    for i, s in enumerate(["hostname  vm", "PID 1     systemd", "PID 2100  bash",
                           "PID 3120  nginx  (= PID 1 of web)", "/ = the host's disk",
                           "no limit but the machine"]):
        o.append(text(624, 112 + i * 22, s, size=12, mono=True, fill="#444444"))
    o.append(text(614, 268, "The host sees every process,", size=12, fill="#555555"))
    o.append(text(614, 286, "with its host PID; a container", size=12, fill="#555555"))
    o.append(text(614, 304, "sees only its own.", size=12, fill="#555555"))
    # The kernel underneath.
    o.append(f'<rect x="20" y="390" width="860" height="70" rx="12" fill="#fdf3e1" '
             f'stroke="#c98a1b" stroke-width="2"/>')
    o.append(text(450, 420, "one Linux kernel, shared by all of them", size=15, weight="bold",
                  fill="#8a5a00", anchor="middle"))
    o.append(text(450, 444, "namespaces and cgroups are kernel features; there is no container "
                  "object in the kernel", size=12, fill="#8a5a00", anchor="middle"))
    for x in (155, 445, 740):
        o.append(f'<path d="M{x} 362 V388" stroke="#c98a1b" stroke-width="2" '
                 f'marker-end="url(#arrow)"/>')
    o.insert(2, '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
                'markerHeight="7" orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="#c98a1b"/>'
                '</marker></defs>')
    o.append(text(450, 500, "system calls: unshare(2), clone(2), setns(2), pivot_root(2), "
                  "writes to /sys/fs/cgroup", size=12, mono=True, fill="#555555", anchor="middle"))
    o.append("</svg>")
    return "\n".join(o) + "\n"


def pictures():
    yield "container.svg", container_svg()
    for name, stage in STAGES.items():
        yield f"{name}.svg", stage_svg(stage)


def write_or_check(script, pictures):
    """The command line every picture script shares: write the pictures that
    changed, or with --check, name the stale ones and exit 1. `pictures` is an
    iterable of (file name, SVG text); `script` is the script's own name."""
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] and not check:
        sys.exit(f"usage: book/pictures/{script} [--check]")
    stale = 0
    for name, svg in pictures:
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != svg:
                print(f"book/src/pictures/{name}: stale: run python3 book/pictures/{script}")
                stale += 1
        elif not path.exists() or path.read_text() != svg:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(svg)
            print(f"wrote book/src/pictures/{name}")
    sys.exit(1 if stale else 0)


def main():
    write_or_check("make.py", pictures())


if __name__ == "__main__":
    main()
