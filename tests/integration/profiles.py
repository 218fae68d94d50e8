"""An independent implementation of the profile merge rules (CONTRACT §6) over decoded
JSON profiles, used to check the simulator's and profgate's answers on the data itself."""


def merge_node(a, b):
    out = {}
    counts = dict(a.get("counts", {}))
    for k, v in b.get("counts", {}).items():
        counts[k] = counts.get(k, 0) + v
    if counts:
        out["counts"] = counts
    f = a.get("file") if a.get("file") is not None else b.get("file")
    if f is not None:
        out["file"] = f
    lines = a.get("line", []) + b.get("line", [])
    if lines:
        lo, hi = min(lines), max(lines)
        out["line"] = [lo] if lo == hi else [lo, hi]
    kids = {}
    for name in set(a.get("children", {})) | set(b.get("children", {})):
        kids[name] = merge_node(a.get("children", {}).get(name, {}), b.get("children", {}).get(name, {}))
    if kids:
        out["children"] = kids
    return out


def merge(a, b):
    """Merges two decoded profiles (None is the empty profile)."""
    if a is None:
        return b
    if b is None:
        return a
    ma, mb = a["agentMetadata"], b["agentMetadata"]
    meta = dict(ma)
    for k in ("numTimesSampled", "durationInMs", "cpuTimeInSeconds"):
        if k in ma or k in mb:
            meta[k] = ma.get(k, 0) + mb.get(k, 0)
    assert ma.get("sampleWeights") == mb.get("sampleWeights"), "the simulator samples at one rate"
    return {"start": min(a["start"], b["start"]), "end": max(a["end"], b["end"]), "agentMetadata": meta,
            "callgraph": merge_node(a["callgraph"], b["callgraph"])}


def total(node, counter="WALL_TIME"):
    return node.get("counts", {}).get(counter, 0) + sum(total(c, counter) for c in node.get("children", {}).values())


def depth(node):
    return 1 + max((depth(c) for c in node.get("children", {}).values()), default=0) if node.get("children") else 0
