"""The package's layout: no module imports another that imports it back."""
import ast
from pathlib import Path

import gancomp_lite

ROOT = Path(gancomp_lite.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = ("gancomp_lite",) + p.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its text (lazy
    imports in functions included: a lazy import only hides a circle)."""
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                deps |= {t for t in [target, *(f"{target}.{a.name}" for a in node.names)] if t in mods}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in mods}
        graph[name] = deps - {name}
    return graph


def circles(graph: dict[str, set[str]], skip: set[str]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), not
    walking through ``skip`` (packages' ``__init__``, which re-export)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w in skip:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in graph:
        if v not in index and v not in skip:
            visit(v)
    return found


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, set()) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}, set()) == []


def test_no_module_of_the_package_imports_itself_through_another():
    mods = _modules()
    packages = {n for n, p in mods.items() if p.name == "__init__.py"}
    graph = import_graph()
    assert "gancomp_lite.models.subnet_config" in graph["gancomp_lite.models.resnet"]
    assert circles(graph, packages) == []
