#!/usr/bin/env python3
"""Flame graphs from `perf script` output, for bench/flame/run.sh.

  flame.py collapse < perf-script.txt > stacks.folded   one line per distinct stack, root first:
                                                        "frame;frame;...;leaf COUNT"
  flame.py svg TITLE < stacks.folded > graph.svg        a flame graph: width is the share of
                                                        samples, children sorted by name, the root
                                                        at the bottom

Written for this repository (no third-party flame graph code): perf's own text output is parsed,
and the SVG is plain rectangles and labels, which chromium turns into the PNG.
"""
import collections
import html
import sys
import zlib


def collapse(lines, only_comm=None):
    stacks = collections.Counter()
    frames, comm = [], None
    for line in list(lines) + [""]:
        line = line.rstrip("\n")
        if not line.strip():
            # Libraries built without frame pointers (libuv, libc) end the walk in garbage, so a
            # stack starts at its outermost named frame: the callback libuv ran.
            while frames and frames[-1].startswith("["):
                frames.pop()
            if frames and (only_comm is None or comm == only_comm):
                stacks[";".join(reversed(frames))] += 1
            frames, comm = [], None
            continue
        if not line[0].isspace():  # the sample's header: "comm pid ... event:"
            comm = line.split()[0]
            continue
        parts = line.strip().split(None, 1)  # "addr symbol+off (dso)"
        if len(parts) < 2:
            continue
        sym = parts[1]
        dso = ""
        if sym.endswith(")") and " (" in sym:
            sym, dso = sym.rsplit(" (", 1)
            dso = dso[:-1]
        if "+0x" in sym:
            sym = sym[: sym.rindex("+0x")]
        if sym == "[unknown]":
            sym = "[" + dso.rsplit("/", 1)[-1] + "]" if dso else "[unknown]"
        frames.append(sym.replace(";", ":"))
    return stacks


def build_tree(stacks):
    root = {"n": 0, "c": {}}
    for stack, count in stacks.items():
        node = root
        node["n"] += count
        for f in stack.split(";"):
            node = node["c"].setdefault(f, {"n": 0, "c": {}})
            node["n"] += count
    return root


def color(name):
    h = zlib.crc32(name.encode())
    if name.startswith("pg_") or name.startswith("gp_") or "profgate" in name:
        return f"rgb({205 + h % 50},{90 + (h >> 8) % 80},{40 + (h >> 16) % 40})"
    return f"rgb({190 + h % 50},{170 + (h >> 8) % 60},{60 + (h >> 16) % 50})"


def svg(stacks, title, width=1600, row=17):
    root = build_tree(stacks)
    total = root["n"] or 1
    rects = []
    depth_max = 0

    def walk(node, name, x, depth):
        nonlocal depth_max
        depth_max = max(depth_max, depth)
        w = node["n"] / total * (width - 20)
        if w < 0.3:
            return
        rects.append((name, x, depth, w, node["n"]))
        cx = x
        for child in sorted(node["c"]):
            walk(node["c"][child], child, cx, depth + 1)
            cx += node["c"][child]["n"] / total * (width - 20)

    walk(root, "all", 10, 0)
    height = (depth_max + 1) * row + 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="DejaVu Sans Mono, monospace" font-size="11">',
           f'<rect width="100%" height="100%" fill="#f8f8f8"/>',
           f'<text x="{width / 2}" y="22" font-size="15" text-anchor="middle">{html.escape(title)}</text>',
           f'<text x="10" y="42" font-size="11" fill="#555">{total} samples; width: share of samples; '
           f'frames sorted by name; profgate\'s own functions in red</text>']
    for name, x, depth, w, n in rects:
        y = height - (depth + 1) * row - 4
        label = f"{name} ({n / total * 100:.1f}%)"
        out.append(f'<g><title>{html.escape(label)}</title><rect x="{x:.1f}" y="{y}" width="{w:.1f}" '
                   f'height="{row - 1}" fill="{color(name)}" rx="1"/>')
        chars = int((w - 4) / 6.7)
        if chars >= 3:
            text = name if len(name) <= chars else name[: chars - 2] + ".."
            out.append(f'<text x="{x + 2:.1f}" y="{y + row - 5}">{html.escape(text)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out), width, height


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "collapse":
        only = sys.argv[2] if len(sys.argv) > 2 else None
        for stack, count in sorted(collapse(sys.stdin, only).items()):
            print(f"{stack} {count}")
    elif len(sys.argv) == 3 and sys.argv[1] == "svg":
        stacks = collections.Counter()
        for line in sys.stdin:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if stack:
                stacks[stack] += int(count)
        doc, _, _ = svg(stacks, sys.argv[2])
        sys.stdout.write(doc)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
