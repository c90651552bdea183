"""The submission policy: what a cell written by a student may not do, and the check itself.

:func:`scan_source` parses one cell (IPython syntax translated first) and returns its
:class:`Violation` s, each with a message for the student; :func:`free_builtins` gives the
built-in names the test cells use (a student may not rebind them). The rules are the sets below
(:data:`ALLOWED_IMPORTS` minus :data:`DENIED_MODULES`, :data:`DENIED_NAMES`,
:data:`DENIED_ATTRIBUTES`, the allowed dunders, :data:`SWALLOWING_EXCEPTIONS`) and ``_Scanner``,
the AST visitor that applies them. The grader itself (``cnncourse.grade`` and every submodule),
the sandbox and the shortcut hooks are denied modules.

This is a friendly policy check, not the protection: every submission runs only inside the OS
sandbox of :mod:`cnncourse.sandbox`. No guarantee depends on it.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass

# Modules a student cell may import (the module or any submodule), minus DENIED_MODULES.
ALLOWED_IMPORTS = frozenset(
    {
        "__future__",
        "numpy",
        "math",
        "cmath",
        "fractions",
        "decimal",
        "statistics",
        "collections",
        "itertools",
        "functools",
        "typing",
        "dataclasses",
        "random",
        "heapq",
        "bisect",
        "string",
        "re",
        "copy",
        "time",
        "textwrap",
        "pprint",
        "matplotlib",
        "scipy",
        "torch",
        "cnncourse",
        "tqdm",
    }
)
DENIED_MODULES = frozenset(
    {
        "numpy.ctypeslib",
        "numpy.f2py",
        "numpy.distutils",
        "numpy.testing",
        "torch.hub",
        "torch.library",
        "torch.ops",
        "torch.jit",
        "torch.utils.cpp_extension",
        "torch.overrides",
        "torch.multiprocessing",
        "torch.distributed",
        "torch.package",
        "torch.onnx",
        "torch.export",
        "torch.compiler",
        "torch.backends",
        "scipy.io",
        "scipy.weave",
        "cnncourse.grade",
        "cnncourse.sandbox",
        "cnncourse.sandbox_runner",
        "cnncourse._shortcuts",
    }
)
# Built-ins that run code from strings, reach the interpreter, or touch files.
DENIED_NAMES = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "open",
        "exit",
        "quit",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "get_ipython",
        "get_type_hints",
        "singledispatch",
        "attrgetter",
        "methodcaller",
    }
)
# Attributes that lead to files, processes, compiled code or operator overrides.
DENIED_ATTRIBUTES = frozenset(
    {
        "hub",
        "library",
        "ops",
        "jit",
        "cpp_extension",
        "ctypes",
        "ctypeslib",
        "overrides",
        "multiprocessing",
        "distributed",
        "compile",
        "compiler",
        "backends",
        "fromfile",
        "tofile",
        "memmap",
        "open_memmap",
        "from_file",
        "imsave",
        "imread",
        "DataSource",
        "get_type_hints",
        "singledispatch",
        "set_default_dtype",
        "set_default_tensor_type",
        "set_default_device",
        "seterr",
        "seterrcall",
        "setbufsize",
        "set_flush_denormal",
    }
)
# save*, load*, dump*, write*, read_*: numpy/torch/matplotlib file I/O (not "loader", "saved_...").
_IO_NAME = re.compile(r"^(save(?!d)|load(?!er|_state_dict)|dump|write|read_)")
ALLOWED_DUNDER_ATTRIBUTES = frozenset({"__init__", "__name__", "__doc__"})
ALLOWED_DUNDER_DEFS = frozenset(
    {"__init__", "__call__", "__repr__", "__str__", "__len__", "__getitem__"}
)
ALLOWED_DUNDER_NAMES = frozenset({"__name__"})
SWALLOWING_EXCEPTIONS = frozenset(
    {"BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit"}
)
_DUNDER = re.compile(r"^__\w+__$")
_PRIVATE_STRING = re.compile(r"^_[A-Za-z]\w*$")


@dataclass(frozen=True)
class Violation:
    """Why a cell is not run: the line (1-based, in the cell) and a message for the student."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _module_allowed(name: str) -> bool:
    parts = name.split(".")
    if parts[0] not in ALLOWED_IMPORTS:
        return False
    return not any(".".join(parts[: i + 1]) in DENIED_MODULES for i in range(len(parts)))


def _root_name(node: ast.AST) -> str | None:
    """``a`` for ``a.b.c``, ``a[0].b``, ``a().b``; None if the chain does not start at a name."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _has_foreign_attribute(node: ast.AST) -> bool:
    """True if an attribute chain inside ``node`` starts anywhere but at ``self``."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and _root_name(sub) != "self":
            return True
    return False


def _io_name(attr: str) -> bool:
    return _IO_NAME.match(attr) is not None


class _Scanner(ast.NodeVisitor):
    def __init__(self, protected: frozenset[str]):
        self.protected = protected
        self.found: list[Violation] = []
        self.depth = 0  # > 0 inside a function or class body

    def flag(self, node: ast.AST, message: str) -> None:
        self.found.append(Violation(getattr(node, "lineno", 0), message))

    def _bind(self, node: ast.AST, name: str) -> None:
        if self.depth == 0 and name in self.protected:
            self.flag(
                node,
                f"rebinds the built-in name `{name}`, which the tests use; choose another name",
            )

    # imports -----------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not _module_allowed(alias.name):
                self.flag(node, f"imports `{alias.name}`, which the grader does not allow")
            self._bind(node, (alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.flag(node, "uses a relative import")
        elif not _module_allowed(module):
            self.flag(node, f"imports from `{module}`, which the grader does not allow")
        elif module == "__future__":
            if any(a.name != "annotations" for a in node.names):
                self.flag(node, "uses a __future__ import other than `annotations`")
        for alias in node.names:
            if alias.name == "*":
                self.flag(node, f"uses `from {module} import *`; import the names you need")
                continue
            if module and not _module_allowed(f"{module}.{alias.name}"):
                self.flag(node, f"imports `{module}.{alias.name}`, which the grader does not allow")
            if alias.name in DENIED_NAMES or alias.name in DENIED_ATTRIBUTES:
                self.flag(node, f"imports `{alias.name}`, which the grader does not allow")
            if _DUNDER.match(alias.name) or alias.name.startswith("_"):
                self.flag(node, f"imports the private name `{alias.name}`")
            if _io_name(alias.name):
                self.flag(node, f"imports `{alias.name}`: exercises do not read or write files")
            self._bind(node, alias.asname or alias.name)

    # names and attributes ----------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in DENIED_NAMES:
            self.flag(node, f"uses `{node.id}`, which the grader does not allow")
        elif _DUNDER.match(node.id) and node.id not in ALLOWED_DUNDER_NAMES:
            self.flag(node, f"uses the interpreter name `{node.id}`")
        if isinstance(node.ctx, ast.Store):
            self._bind(node, node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        root = _root_name(node)
        if isinstance(node.ctx, (ast.Store, ast.Del)) and not (
            isinstance(node.value, ast.Name) and node.value.id == "self"
        ):
            verb = "assigns" if isinstance(node.ctx, ast.Store) else "deletes"
            self.flag(
                node,
                f"{verb} the attribute `{attr}` of `{root or 'an expression'}`; answer cells "
                "may only set attributes of `self` (monkeypatching is not allowed)",
            )
        if _DUNDER.match(attr):
            if attr not in ALLOWED_DUNDER_ATTRIBUTES:
                self.flag(node, f"uses the interpreter attribute `{attr}`")
        elif attr.startswith("_") and root != "self":
            self.flag(node, f"uses the private attribute `{attr}` of `{root or 'an object'}`")
        if attr in DENIED_ATTRIBUTES:
            self.flag(node, f"uses `{attr}`, which the grader does not allow")
        elif _io_name(attr):
            self.flag(node, f"calls `{attr}`: exercises do not read or write files")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)) and _has_foreign_attribute(node.value):
            self.flag(
                node,
                "changes an item inside another module or object's attribute; "
                "only change your own variables",
            )
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "type" and len(node.args) != 1:
            self.flag(node, "creates a class with type(name, bases, dict)")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and (
            _DUNDER.match(node.value) or _PRIVATE_STRING.match(node.value)
        ):
            self.flag(node, f"uses the string {node.value!r}, which names interpreter internals")

    # definitions ---------------------------------------------------------------------------
    def _visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if _DUNDER.match(node.name) and node.name not in ALLOWED_DUNDER_DEFS:
            self.flag(node, f"defines `{node.name}`, which could change how answers compare")
        self._bind(node, node.name)
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            self._check_annotation(arg.annotation)
        self._check_annotation(node.returns)
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._bind(node, node.name)
        for kw in node.keywords:
            if kw.arg == "metaclass":
                self.flag(node, "uses a metaclass")
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_annotation(node.annotation)
        self.generic_visit(node)

    def _check_annotation(self, annotation: ast.AST | None) -> None:
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            self.flag(annotation, "uses a string annotation (it could be evaluated as code)")

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name in self.protected:
                self.flag(node, f"declares the built-in name `{name}` global")

    visit_Nonlocal = visit_Global

    # control flow ------------------------------------------------------------------------
    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        names = []
        if node.type is None:
            names = ["bare except"]
        else:
            for sub in ast.walk(node.type):
                if isinstance(sub, ast.Name) and sub.id in SWALLOWING_EXCEPTIONS:
                    names.append(sub.id)
        if names:
            self.flag(
                node,
                f"catches {names[0]}, which would also swallow the grader's time-limit "
                "interrupt; catch `Exception` instead",
            )
        self.generic_visit(node)


def _python_source(source: str) -> str:
    """Translate IPython syntax (``%magic``, ``!shell``) to the Python the kernel will run."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return source
    return TransformerManager().transform_cell(source)


def scan_source(source: str, protected: Iterable[str] = ()) -> list[Violation]:
    """Policy check of one code cell written by a student.

    Parameters
    ----------
    source : str
        The cell's source (IPython syntax allowed; it is translated first).
    protected : iterable of str
        Built-in names the test cells use; rebinding them at top level is a violation.

    Returns
    -------
    list of Violation
        Empty when the cell may run.
    """
    try:
        tree = compile(
            _python_source(source),
            "<cell>",
            "exec",
            flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            dont_inherit=True,
        )
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", None) or 0
        return [Violation(line, f"cannot be parsed ({type(err).__name__}: {err.msg})")]
    scanner = _Scanner(frozenset(protected))
    scanner.visit(tree)
    unique = {(v.line, v.message): v for v in scanner.found}
    return sorted(unique.values(), key=lambda v: v.line)


def free_builtins(sources: Iterable[str]) -> frozenset[str]:
    """Built-in names that the given (trusted) cells load: the names students must not rebind."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(_python_source(source))
        except SyntaxError:
            continue
        names.update(
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        )
    return frozenset(n for n in names if hasattr(builtins, n))
