#!/usr/bin/env python3
"""Draw the pictures of step07's sub-chapters: book/src/pictures/step07-{network,init,ipc,hardening,docker}.svg.

    python3 book/pictures/step07-parts.py          # write the SVGs
    python3 book/pictures/step07-parts.py --check  # exit 1, naming each SVG that is not what this draws

One picture per sub-chapter, each of what that chapter adds: the bridge and the veth
pairs (network), init between the runtime and the command (init), the IPC namespace
(ipc), the layers of the hardening (hardening), and where each piece sits in Docker's
stack (docker). What the container owns is on blue, what the host's is on grey, the host
kernel's shared parts on orange, signals and what is refused in red. The colours, fonts
and text helper are make.py's, so the pictures match the stage pictures. The names,
numbers and masks are those step07-full uses; the PIDs are examples. The output is plain
SVG text, stable byte for byte.
"""
import sys
from pathlib import Path
from xml.sax.saxutils import escape

# Borrow make.py's palette and text helper (and leave no __pycache__ in the book).
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make import BLUE, BLUE_BG, GREY, GREY_BG, INK, text, write_or_check  # noqa: E402

ORANGE, ORANGE_BG, ORANGE_INK = "#c98a1b", "#fdf3e1", "#8a5a00"
RED, NOTE, DARK = "#b3261e", "#555555", "#444444"


def head(w, h, label, title):
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(label)}">',
            f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
            text(20, 32, title, size=18, weight="bold")]


def rect(x, y, w, h, rx, fill, stroke, width, dash=""):
    dash = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"{dash}/>')


def arrow_defs(*colours):
    """One arrowhead marker per colour, named by it: url(#to-1f6fb2)."""
    marks = "".join(
        f'<marker id="to-{c[1:]}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="{c}"/></marker>'
        for c in colours)
    return f"<defs>{marks}</defs>"


def arrow(d, colour, width=1.5, dash=""):
    dash = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width}"{dash} '
            f'marker-end="url(#to-{colour[1:]})"/>')


def lines(x, y, rows, step=16, **kw):
    return [text(x, y + i * step, row, **kw) for i, row in enumerate(rows)]


# --- network: the bridge, a veth pair per container, eth0 inside --------------------

def network_svg():
    o = head(920, 640, "--net bridge: the cfs0 bridge in the host network namespace, a veth pair "
             "per container, eth0 inside each container",
             "step07-full --net bridge: two containers on the cfs0 bridge")
    o += [rect(20, 50, 880, 284, 12, GREY_BG, "#bbbbbb", 1.5),
          text(36, 76, "host network namespace", size=14, weight="bold"),
          text(36, 96, "your shell, the runtime, every host program", size=11, fill=NOTE),
          rect(680, 62, 200, 54, 8, "#ffffff", GREY, 1.5),
          text(694, 84, "eth0", size=13, weight="bold", mono=True),
          text(694, 104, "the host's own network", size=11, fill=NOTE),
          f'<path d="M780 150 V118" stroke="{GREY}" stroke-width="1.5" stroke-dasharray="4 3"/>',
          f'<path d="M773 127 L787 141 M787 127 L773 141" stroke="{RED}" stroke-width="2.5"/>',
          text(766, 139, "not forwarded, no NAT: no way out", size=11, fill=RED, anchor="end"),
          rect(40, 150, 840, 56, 8, ORANGE_BG, ORANGE, 2),
          text(56, 172, "cfs0", size=15, weight="bold", fill=ORANGE_INK, mono=True),
          text(110, 172, "bridge: a software switch, made on first use and then kept (like docker0)",
               size=12, fill=ORANGE_INK),
          text(56, 195, "10.201.0.1/24 · MAC 02:42:0a:c9:00:01 · host route: 10.201.0.0/24 dev cfs0",
               size=12, mono=True)]
    for n, (x, pid, addr, note) in enumerate([(20, 4242, "10.201.0.2/24", "in one end, out the other"),
                                              (480, 4301, "10.201.0.3/24", "one per container")]):
        o += [f'<path d="M{x + 315} 206 V246" stroke="{ORANGE}" stroke-width="2"/>',
              rect(x + 240, 246, 150, 44, 8, "#ffffff", BLUE, 1.5),
              text(x + 252, 265, f"cfs{pid}", size=13, weight="bold", mono=True),
              text(x + 252, 282, "host end, master cfs0", size=10, fill=NOTE),
              f'<path d="M{x + 312} 290 V414" stroke="{BLUE}" stroke-width="2"/>',
              f'<path d="M{x + 318} 290 V414" stroke="{BLUE}" stroke-width="2"/>',
              text(x + 327, 356, "veth pair", size=12, weight="bold", fill=BLUE),
              text(x + 327, 372, note, size=10, fill=NOTE),
              rect(x, 384, 420, 220, 12, BLUE_BG, BLUE, 2, "7 4"),
              text(x + 16, 408, f"container {n + 1}: its own network namespace", size=13,
                   weight="bold", fill=BLUE),
              text(x + 16, 426, f"init is PID {pid} on the host", size=11, fill=NOTE),
              rect(x + 235, 414, 160, 54, 8, "#ffffff", BLUE, 1.5),
              text(x + 247, 436, "eth0", size=13, weight="bold", mono=True),
              text(x + 247, 456, addr, size=12, mono=True),
              rect(x + 16, 440, 190, 28, 6, "#ffffff", GREY, 1.5),
              text(x + 26, 459, "lo  127.0.0.1/8", size=12, mono=True),
              text(x + 16, 498, "default via 10.201.0.1 dev eth0", size=12, mono=True),
              text(x + 16, 518, "10.201.0.0/24 dev eth0", size=12, mono=True),
              text(x + 16, 546, "no other interfaces, no host routes,", size=11, fill=NOTE),
              text(x + 16, 562, "its own ports and firewall", size=11, fill=NOTE),
              text(x + 16, 590, "inside: ip -4 addr · ip route · ping 10.201.0.1", size=11,
                   fill=BLUE, mono=True)]
    o.append(text(36, 236, "on the host:", size=11, weight="bold", fill=DARK))
    o += lines(36, 256, ["ip link show master cfs0", "ip -4 addr show cfs0", "ip route",
                         "nsenter -t 4242 -n ip addr"], step=18, size=11, mono=True, fill=DARK)
    o.append(text(20, 628, "Addresses come from 10.201.0.0/24: .1 is the bridge, .2 to .254 are "
                  "leased to containers; PIDs are examples.", size=11, fill=NOTE))
    return o


# --- init: PID 1 between the runtime and the command ---------------------------------

def init_svg():
    w, h = 920, 656
    o = head(w, h, "The runtime is the parent of init, PID 1 in the container, which is the parent "
             "of the command, PID 2. A signal sent to the runtime is passed on to init and by init "
             "to the command; the command's exit status comes back the same way. An orphan is "
             "re-parented to init, which reaps it. Ctrl-C reaches all three from the terminal "
             "and is not forwarded.",
             "step07 init: PID 1 between the runtime and the command")
    o.insert(1, arrow_defs(RED, BLUE, GREY))
    bx, bw = 190, 280
    # (y, label, host PID, PID inside, note, inside the container?)
    rows = [(70, "bash", "2100", None, "your shell", False),
            (160, "step07-full run sleep 30", "2301", None, "the runtime", False),
            (262, "init", "2302", "1", "the runtime's child, once set up", True),
            (352, "sleep 30", "2303", "2", "the command", True),
            (442, "sleep 0.2", "2305", "3", "an orphan, given to init", True)]
    o.append(rect(176, 218, 330, 296, 10, BLUE_BG, BLUE, 2, "7 4"))
    o.append(text(498, 506, "container", size=12, weight="bold", fill=BLUE, anchor="end"))
    for y, label, hpid, ipid, note, inside in rows:
        dash = "5 3" if label == "sleep 0.2" else ""
        o.append(rect(bx, y, bw, 44, 6, "#ffffff", BLUE if inside else GREY, 1.5, dash))
        o.append(text(bx + 10, y + 18, label, size=12, weight="bold", mono=True))
        o.append(text(bx + 10, y + 35, note, size=10, fill=NOTE))
        pids = f"host {hpid}" + (f" · PID {ipid}" if ipid else "")
        o.append(text(bx + bw - 10, y + 18, pids, size=11, mono=True,
                      fill=BLUE if ipid else NOTE, anchor="end"))
    # Signals down the left lane, statuses up the right one.
    x_sig, x_up = 222, 440
    for (top, bottom, sig, status) in [(114, 160, "kill -TERM 2301", "$? = 143"),
                                       (204, 262, "kill(2302, SIGTERM)", "exit 143"),
                                       (306, 352, "kill(2, SIGTERM)", "waitpid: 143")]:
        o.append(arrow(f"M{x_sig} {top + 2} V{bottom - 2}", RED, 2))
        o.append(text(x_sig + 8, (top + bottom) // 2 + 4, sig, size=11, mono=True, fill=RED))
        o.append(arrow(f"M{x_up} {bottom - 2} V{top + 2}", BLUE, 2))
        o.append(text(x_up - 8, (top + bottom) // 2 + 4, status, size=11, mono=True, fill=BLUE,
                      anchor="end"))
    # The orphan: reaped by init, up a lane of its own.
    o.append(arrow(f"M{bx + bw} 464 H488 V284 H{bx + bw + 2}", BLUE, 1.5, "4 3"))
    # The terminal: Ctrl-C reaches the whole foreground group.
    o.append(rect(20, 250, 120, 58, 8, "#ffffff", GREY, 1.5))
    o.append(text(80, 274, "terminal", size=12, weight="bold", anchor="middle"))
    o.append(text(80, 294, "Ctrl-C", size=12, mono=True, fill=RED, anchor="middle"))
    for y in (182, 284, 374):
        o.append(arrow(f"M140 279 L{bx - 2} {y}", GREY, 1.2, "4 3"))
    o.append(text(20, 330, "SIGINT to the whole", size=11, fill=NOTE))
    o.append(text(20, 346, "foreground group,", size=11, fill=NOTE))
    o.append(text(20, 362, "si_code SI_KERNEL", size=11, fill=NOTE, mono=True))
    # Notes, row by row.
    nx = 524
    notes = [
        (76, "you (or docker stop) send the runtime a signal", []),
        (166, "holds its signals back: takes them with", ["sigtimedwait(2), passes each on to init;",
                                                         "after a stop request, SIGKILL 3 s later"]),
        (268, "blocks the signals it handles, takes them", ["with sigwaitinfo(2): a blocked signal is",
                                                           "never dropped, not even for PID 1"]),
        (358, "starts with every signal at its default:", ["dies of SIGTERM, and init exits with its",
                                                          "status, 143 = 128 + 15"]),
        (448, "its parent exited: the kernel made it", ["init's child; init reaps every child with",
                                                       "waitpid(-1, WNOHANG): no zombie is left"]),
    ]
    for y, first, more in notes:
        o += lines(nx, y, [first] + more, size=11, fill=NOTE)
    # Below: the two ways a signal does not go through init.
    by = 550
    o.append(f'<line x1="20" y1="{by - 16}" x2="{w - 20}" y2="{by - 16}" stroke="#dddddd"/>')
    o.append(text(20, by + 4, "Ctrl-C", size=13, weight="bold", fill=RED))
    o += lines(150, by + 4, ["the terminal sends SIGINT to the runtime, init and the command at once: "
                             "neither the runtime nor init",
                             "forwards a signal the kernel sent (SI_KERNEL), so the command gets "
                             "it once."], size=12)
    o.append(text(20, by + 52, "SIGKILL", size=13, weight="bold", fill=RED))
    o += lines(150, by + 52, ["sent to the runtime cannot be passed on: the kernel sends init its "
                              "parent-death signal (PR_SET_PDEATHSIG),",
                              "SIGKILL; when PID 1 exits, the kernel kills every process left in "
                              "the namespace."], size=12)
    return o


# --- ipc: the IPC namespace ------------------------------------------------------------

# Each kind of object: its name, the columns ipcs shows for it (the last one differs).
IPCS = [
    ("Message queues", ["key", "msqid", "owner", "perms"]),
    ("Shared memory segments", ["key", "shmid", "owner", "bytes"]),
    ("Semaphore arrays", ["key", "semid", "owner", "nsems"]),
]
COLUMNS = [0, 100, 160, 240]


def ipc_svg():
    w, h = 920, 540
    o = head(w, h, "Two IPC namespaces side by side: the host's, with the host's message queues, "
             "shared memory segments and semaphore sets, and the container's own, which starts "
             "empty and numbers its objects from 0. Neither sees the other's objects; the "
             "container's are destroyed with its namespace.",
             "step07 IPC: queues, semaphores and shared memory of its own")
    panels = [
        (20, "the host's IPC namespace", "ipc:[4026531839]", False,
         [[("0x5e1f0a2c", "65536", "root", "644")],
          [("0x0052e2c1", "32768", "postgres", "56"), ("0x00000000", "32769", "you", "524288")],
          [("0x7a3b9e11", "32768", "root", "1")]],
         ["every process of the host, and of every", "container started without CLONE_NEWIPC"]),
        (470, "the container's IPC namespace", "ipc:[4026532511]", True,
         [[("0x3c8d1f40", "0", "root", "644")], [("0x1b07c2e5", "0", "root", "4096")],
          [("0x6e2a9d73", "0", "root", "1")]],
         ["starts empty, and its ids count from 0;", "destroyed, with all it holds, when its",
          "last process exits"]),
    ]
    for x, title, ns, own, objects, notes in panels:
        ink = BLUE if own else INK
        o.append(rect(x, 52, 430, 350, 12, BLUE_BG if own else GREY_BG, BLUE if own else "#bbbbbb",
                      2, "7 4" if own else ""))
        o.append(text(x + 16, 78, title, size=14, weight="bold", fill=ink))
        o.append(text(x + 414, 78, ns, size=11, mono=True, fill=NOTE, anchor="end"))
        for k, ((kind, header), rows) in enumerate(zip(IPCS, objects)):
            y = 104 + k * 70
            o.append(text(x + 16, y, kind, size=12, weight="bold"))
            for cx, cell in zip(COLUMNS, header):
                o.append(text(x + 24 + cx, y + 17, cell, size=11, mono=True, fill=NOTE))
            for i, row in enumerate(rows):
                for cx, cell in zip(COLUMNS, row):
                    o.append(text(x + 24 + cx, y + 32 + i * 15, cell, size=11, mono=True))
        o.append(text(x + 16, 318, "and POSIX message queues (mq_open), and its own",
                      size=11, fill=NOTE))
        o.append(text(x + 16, 334, "limits: /proc/sys/kernel/shmmax, msgmax, sem …", size=11,
                      fill=NOTE))
        o += lines(x + 16, 360, notes, size=11, fill=DARK)
    # Nothing crosses.
    o.append(f'<path d="M452 210 H488" stroke="{GREY}" stroke-width="1.5" stroke-dasharray="4 3"/>')
    o.append(f'<path d="M463 203 L477 217 M477 203 L463 217" stroke="{RED}" stroke-width="2.5"/>')
    # /dev/shm: a file system, the mount namespace's.
    o.append(rect(20, 420, 880, 58, 10, "#ffffff", GREY, 1.2, "5 3"))
    o.append(text(36, 444, "/dev/shm", size=13, weight="bold", mono=True))
    o.append(text(120, 444, "POSIX shared memory (shm_open) is files on a tmpfs: not the IPC "
                  "namespace's, the mount namespace's;", size=12))
    o.append(text(120, 464, "the container has a /dev/shm of its own since step05.", size=12))
    o.append(text(20, 506, "Keys and ids are looked up in the caller's IPC namespace: ipcs, ipcmk "
                  "and ipcrm inside see only the container's.", size=12))
    o.append(text(20, 526, "One flag makes it: CLONE_NEWIPC, with the other namespaces. Keys, "
                  "ids and namespace numbers are examples.", size=11, fill=NOTE))
    return o


# --- hardening: the layers -------------------------------------------------------------

LAYERS = [
    ("seccomp", "seccomp(2)",
     ["a filter run at every system call: EPERM for 30 rules (unshare,",
      "setns, clone with a namespace flag, keyctl, mount, bpf, TIOCSTI …),",
      "ENOSYS for clone3"],
     ["unshare -U -r sh:", "unshare(0x10000000): Operation", "not permitted"]),
    ("capabilities", "capset(2), prctl(2)",
     ["13 kept of 41 (a 6.x kernel): Docker's 14 less CAP_MKNOD, in all",
      "five sets (CapEff 00000000a00425fb); no supplementary groups"],
     ["mknod /dev/shm/disk b 8 0:", "Operation not permitted"]),
    ("no_new_privs", "prctl(2)",
     ["execve(2) grants nothing more: set-user-ID bits and file",
      "capabilities are ignored, so a dropped capability stays dropped"],
     ["a set-user-ID program", "does not become root"]),
    ("read-only", "mount(2), MS_RDONLY",
     ["/sys mounted read-only; /proc/sys, /proc/sysrq-trigger, /proc/irq,",
      "/proc/bus, /proc/fs bound onto themselves and remounted read-only"],
     ["echo 1 > /proc/sys/net/ipv4/ip_forward:", "Read-only file system"]),
    ("masked", "mount(2), MS_BIND",
     ["/dev/null over /proc/kcore, /proc/keys, /proc/timer_list,",
      "/proc/kpageflags …; an empty read-only tmpfs over /proc/acpi,",
      "/sys/firmware …"],
     ["cat /proc/keys:", "prints nothing"]),
]


def hardening_svg():
    w = 920
    band = 70
    top = 112
    h = top + band * len(LAYERS) + 210
    o = head(w, h, "The layers between root in the container and the host: a seccomp filter, 13 "
             "capabilities, no_new_privs, read-only /proc/sys and /sys, and masked /proc files, "
             "each with an example of what it stops.",
             "step07 hardening: what root in the container may not do")
    o.insert(1, arrow_defs(RED))
    o.append(rect(20, 50, w - 40, 44, 8, BLUE_BG, BLUE, 2))
    lx, bx = 32, 50  # the system call's lane, and where the layers start
    o.append(text(36, 70, "the command", size=13, weight="bold", fill=BLUE))
    o.append(text(150, 70, "root: uid 0, in the host's user namespace (step07 makes none)", size=12))
    o.append(text(150, 86, "what it asks of the kernel goes through each layer", size=11, fill=NOTE))
    o.append(text(628, 112, "what it stops, for example", size=11, weight="bold", fill=RED))
    for i, (name, call, what, stops) in enumerate(LAYERS):
        y = top + 8 + i * band
        o.append(rect(bx, y, w - 20 - bx, band - 10, 8, "#ffffff", GREY, 1.2))
        o.append(text(bx + 14, y + 24, name, size=14, weight="bold"))
        o.append(text(bx + 14, y + 42, call, size=11, mono=True, fill=NOTE))
        o += lines(200, y + 20, what, step=16, size=11)
        o += lines(628, y + 20, stops, step=16, size=11, mono=True, fill=RED)
    y = top + 8 + len(LAYERS) * band
    o.append(rect(bx, y, w - 20 - bx, 44, 8, "#ffffff", "#cccccc", 1.2, "5 3"))
    o.append(text(bx + 14, y + 19, "and", size=12, weight="bold"))
    o.append(text(200, y + 19, "every descriptor above 2 closed (close_range); init not dumpable; "
                  "device nodes of its own (mknod)", size=11))
    o.append(text(200, y + 35, "cat /proc/1/environ: Permission denied", size=11, mono=True,
                  fill=RED))
    y += 58
    o.append(rect(20, y, w - 40, 44, 8, ORANGE_BG, ORANGE, 2))
    o.append(text(36, y + 27, "the host's kernel", size=14, weight="bold", fill=ORANGE_INK))
    o.append(text(200, y + 27, "one for all: /proc and /sys describe, and change, the whole host",
                  size=12, fill=ORANGE_INK))
    o.append(arrow(f"M{lx} 96 V{y - 3}", RED, 1.5, "5 4"))
    y += 70
    o += lines(20, y, ["The child sets them up in this order: the read-only and masked paths "
                       "while it mounts the rootfs (they need CAP_SYS_ADMIN),",
                       "then groups, capabilities and no_new_privs, descriptors, dumpable, and "
                       "the seccomp filter last, just before init starts the command."],
               step=18, size=12)
    return o


# --- docker: where the pieces sit in Docker's stack -------------------------------------

# (Docker's piece, what it does, step07-full's answer, where; None: not here)
DOCKER = [
    ("images and layers", ["an image's layers, pulled from a registry and stacked",
                           "with overlayfs, under an upper layer of its own"],
     ("rootfs/", ["one directory, built by scripts/build-rootfs.sh,",
                  "shared by every container, read-write"])),
    ("networks", ["docker0, address management, NAT to the outside,",
                  "-p port publishing, DNS for container names"],
     ("network.rs", ["cfs0, a veth pair per container, lease files in",
                     "/run/containers-from-scratch; no NAT, no -p"])),
    ("dockerd, containerd, shim", ["a daemon with an API; the shim stays the container's",
                                   "parent after docker run returns: logs, ps, exec"],
     ("run", ["the parent, in your terminal, until the command",
              "exits: no daemon, no logs, no exec"])),
    ("runc", ["namespaces, cgroups, pivot_root, masked paths,",
              "capabilities, seccomp (an allow list)"],
     ("run and child", ["the same, built in steps 1 to 7; seccomp a deny",
                        "list with Docker's answers"])),
    ("tini (docker run --init)", ["PID 1: forwards signals, reaps orphans"],
     ("init.rs", ["init, PID 1: forwards signals, reaps every child"])),
    ("AppArmor or SELinux", ["a security module's profile, where the host has one"],
     None),
    ("user namespaces", ["userns-remap in daemon.json; Docker's rootless mode"],
     ("", ["none yet: a rootless stage, step08, is planned"])),
]


def docker_svg():
    w = 920
    row = 74
    top = 92
    h = top + row * len(DOCKER) + 44
    o = head(w, h, "Docker's stack, piece by piece, next to what step07-full does for each piece: "
             "the rootfs directory for images, network.rs for docker0, run for containerd and its "
             "shim, run and child for runc, init.rs for tini; no security module and no user "
             "namespace.",
             "What Docker adds on top: its pieces and step07-full's")
    o.insert(1, arrow_defs(GREY))
    o.append(text(20, 70, "Docker", size=15, weight="bold"))
    o.append(text(500, 70, "step07-full", size=15, weight="bold", fill=BLUE))
    for i, (piece, what, ours) in enumerate(DOCKER):
        y = top + i * row
        o.append(rect(20, y, 400, row - 12, 8, GREY_BG, "#bbbbbb", 1.2))
        o.append(text(34, y + 22, piece, size=13, weight="bold", mono=True))
        o += lines(34, y + 40, what, step=15, size=11, fill=DARK)
        if ours is None:
            o.append(rect(500, y, 400, row - 12, 8, "#ffffff", "#c0c0c0", 1.2, "2 3"))
            o.append(text(514, y + 36, "nothing here", size=12, fill=NOTE))
            continue
        name, says = ours
        dashed = "" if name else "5 3"
        o.append(rect(500, y, 400, row - 12, 8, BLUE_BG if name else "#ffffff", BLUE if name else GREY,
                      1.5, dashed))
        o.append(arrow(f"M424 {y + (row - 12) // 2} H496", GREY, 1.5))
        if name:
            o.append(text(514, y + 22, name, size=13, weight="bold", mono=True, fill=BLUE))
            o += lines(514, y + 40, says, step=15, size=11)
        else:
            o += lines(514, y + 28, says, step=16, size=12, fill=NOTE)
    o.append(text(20, h - 16, "Top to bottom, the way docker run goes down Docker's stack; on the "
                  "right, what step07-full has in each place.", size=12, fill=NOTE))
    return o


PICTURES = {
    "step07-network.svg": network_svg,
    "step07-init.svg": init_svg,
    "step07-ipc.svg": ipc_svg,
    "step07-hardening.svg": hardening_svg,
    "step07-docker.svg": docker_svg,
}


def main():
    write_or_check("step07-parts.py", ((name, "\n".join(draw() + ["</svg>"]) + "\n") for name, draw in PICTURES.items()))


if __name__ == "__main__":
    main()
