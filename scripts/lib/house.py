#!/usr/bin/env python3
"""The house rules of `functions/`, checked from the source alone (no build):

- no module cycle inside a crate: an edge runs from a module to every module whose items it
  names through `crate::`, `super::` or `self::` paths, skipping edges to its own submodules
  (a parent declares and re-exports its parts) and test code;
- no file holds more than 600 lines of non-test code (everything before `#[cfg(test)]`);
- no store trait has more than 15 methods.

Prints what breaks a rule and exits 1, or prints a one-line summary and exits 0.
"""
import re
import sys
from pathlib import Path

MAX_LINES = 600
MAX_TRAIT_METHODS = 15
ROOT = Path(__file__).resolve().parents[2] / "functions"


def non_test_code(text):
    cut = text.find("#[cfg(test)]")
    code = text if cut < 0 else text[:cut]
    # Comments name modules too ("see crate::x"): only code counts.
    return re.sub(r"//[^\n]*", "", code)


def module_of(src, path):
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return tuple(parts)


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = re.sub(r"\s+", "", tree)
    depth, start = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                prefix, inner, rest = tree[:start], tree[start + 1 : i], tree[i + 1 :]
                items, d, cur = [], 0, ""
                for c in inner:
                    if c == "," and d == 0:
                        items.append(cur)
                        cur = ""
                        continue
                    d += c == "{"
                    d -= c == "}"
                    cur += c
                items.append(cur)
                out = []
                for item in filter(None, items):
                    out += expand_use(prefix + item + rest)
                return out
    return [tree.split(" as ")[0]]


def referenced_paths(code):
    paths = []
    for m in re.finditer(r"\buse\s+((?:crate|super|self)::[^;]+);", code):
        paths += expand_use(m.group(1))
    no_use = re.sub(r"\buse\s+[^;]+;", "", code)
    paths += re.findall(r"\b(?:crate|super|self)(?:::\w+)+", no_use)
    return paths


def resolve(module, path, modules):
    segs = path.split("::")
    base = list(module)
    while segs and segs[0] in ("crate", "super", "self"):
        head = segs.pop(0)
        if head == "crate":
            base = []
        elif head == "super":
            base = base[:-1]
    full = base + segs
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in modules:
            return tuple(full[:n])
    return None


def cycles(graph):
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    problems, files, crates = [], 0, 0
    for src in sorted(ROOT.glob("*/src")):
        crates += 1
        crate = src.parent.name
        texts = {p: p.read_text() for p in src.rglob("*.rs")}
        modules = {module_of(src, p): p for p in texts}
        graph = {m: set() for m in modules}
        for path, text in texts.items():
            files += 1
            code = non_test_code(text)
            lines = code.count("\n")
            if lines > MAX_LINES:
                problems.append(f"{path.relative_to(ROOT.parent)}: {lines} lines of non-test code (at most {MAX_LINES})")
            me = module_of(src, path)
            for ref in referenced_paths(code):
                target = resolve(me, ref, modules)
                if target is None or target == me or target[: len(me)] == me:
                    continue
                graph[me].add(target)
            if crate == "store":
                for t in re.finditer(r"pub trait (\w+)[^{]*\{(.*?)\n\}", code, re.S):
                    methods = len(re.findall(r"\bfn \w+", t.group(2)))
                    if methods > MAX_TRAIT_METHODS:
                        problems.append(f"{path.relative_to(ROOT.parent)}: trait {t.group(1)} has {methods} methods (at most {MAX_TRAIT_METHODS})")
        for comp in cycles(graph):
            names = " <-> ".join("::".join(m) or "(root)" for m in comp)
            problems.append(f"functions/{crate}: module cycle {names}")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"house rules hold: {crates} crates, {files} files, no module cycle, no file over {MAX_LINES} lines, no store trait over {MAX_TRAIT_METHODS} methods")
    return 0


if __name__ == "__main__":
    sys.exit(main())
