"""The layers hold: the core is pure, `hardware` stands alone, faces reach rules only through the public API,
and modules and functions stay small (README, "Architecture")."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = sorted(p.stem for p in (ROOT / "catalog" / "core").glob("*.py") if p.stem != "__init__")
# what a pure module must not load: network, terminal UI, native libraries, processes and sockets
IO_MODULES = ("httpx", "huggingface_hub", "rich", "textual", "pynvml", "subprocess", "socket", "numpy", "gguf",
              "jinja2", "tokenizers", "quicktok")
FUNCTION_LINES = 60  # tables are exempt
MODULE_LINES = 420  # "about 400"
TABLES = {("catalog/core/arch.py", "_hf_tensors")}  # the tensor names convert_hf_to_gguf.py writes, per architecture


def _loaded_after(code: str) -> set[str]:
    r = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


@pytest.mark.parametrize("module", ["catalog.core." + m for m in CORE] + ["catalog.errors", "hardware"])
def test_a_pure_module_imported_alone_loads_no_io_and_no_outer_layer(module: str) -> None:
    loaded = _loaded_after(f"import {module}")
    assert not [m for m in loaded if m.split(".")[0] in IO_MODULES], module
    outer = [m for m in loaded if m.startswith(("catalog.sources", "catalog.service", "catalog.cli", "tui"))]
    assert not outer, (module, outer)


def test_hardware_loads_nothing_of_catalog() -> None:
    loaded = _loaded_after("import hardware\nhardware.profile(['RTX 3060'], 32)\nhardware.budget(8, 16)\n"
                           "hardware.detect()")
    assert not [m for m in loaded if m == "catalog" or m.startswith("catalog.")]


def test_an_offline_check_loads_no_network_ui_or_numpy() -> None:
    loaded = _loaded_after("from catalog.cli.main import main\n"
                           "main(['check', 'llama3.1:8b', '--gpu', 'RTX 3060', '--offline', '--json'])")
    assert not [m for m in loaded if m.split(".")[0] in ("huggingface_hub", "httpx", "textual", "numpy", "rich")]


# --- static: what each layer may import at run time (imports under `if TYPE_CHECKING:` are for the checker) ----

def _runtime_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for sub in node.body for n in ast.walk(sub)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return out


def _ours(name: str) -> bool:
    return name.split(".")[0] in ("catalog", "hardware", "tui")


HARDWARE_VALUES = "hardware.values"  # the package itself, for GPU, Hardware and UnknownGpu (not its detection)
LAYERS = {
    # folder: the modules of ours it may import at run time (prefixes)
    "catalog/core": ("catalog.core", "catalog.errors", HARDWARE_VALUES),
    "catalog/sources": ("catalog.core", "catalog.errors", "catalog.sources", HARDWARE_VALUES),
    "catalog/service": ("catalog.core", "catalog.errors", "catalog.service", "catalog.sources", "hardware"),
    # faces: the public API (the package itself), its errors, the core's values, and their own modules
    "catalog/cli": ("catalog", "catalog.errors", "catalog.core", "catalog.cli", HARDWARE_VALUES, "tui.app"),
    "tui": ("catalog", "catalog.errors", "catalog.core", "catalog.cli.render", "tui", HARDWARE_VALUES),
    "hardware": ("hardware",),
}


@pytest.mark.parametrize("folder", sorted(LAYERS))
def test_each_layer_imports_only_what_it_may(folder: str) -> None:
    import catalog

    public = set(catalog.__all__) | {"__version__"}
    allowed = LAYERS[folder]

    def ok(name: str) -> bool:
        if name in ("hardware", "hardware.GPU", "hardware.Hardware", "hardware.UnknownGpu") and \
                HARDWARE_VALUES in allowed:
            return True
        if name == "catalog" or (name.startswith("catalog.") and name.count(".") == 1
                                 and name.split(".")[1] in public):  # the public API
            return "catalog" in allowed
        return any(name == a or name.startswith(a + ".") for a in allowed if a != "catalog")

    bad = [f"{path.relative_to(ROOT)}: {name}" for path in sorted((ROOT / folder).rglob("*.py"))
           for name in _runtime_imports(path) if _ours(name) and not ok(name)]
    assert not bad, bad


def test_the_core_reads_no_file_environment_or_clock() -> None:
    """Beyond imports: no call that reads the outside world, anywhere in the core."""
    banned = {"open", "os.environ", "os.getenv", "os.listdir", "os.stat", "os.path.exists", "os.path.isfile",
              "os.path.isdir", "os.path.getsize", "time.time", "time.monotonic", "time.perf_counter", "datetime.now",
              "random.random", "input"}
    found = []
    for path in sorted((ROOT / "catalog" / "core").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)):
                text = ast.unparse(node.func if isinstance(node, ast.Call) else node)
                if text in banned:
                    found.append(f"{path.name}:{node.lineno} {text}")
    assert not found, found


def test_modules_and_functions_stay_small() -> None:
    long = []
    for folder in ("catalog", "hardware", "tui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            text = path.read_text(encoding="utf-8")
            if text.count("\n") > MODULE_LINES:
                long.append(f"{rel}: {text.count(chr(10))} lines")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (rel, node.name) not in TABLES:
                    n = (node.end_lineno or node.lineno) - node.lineno + 1
                    if n > FUNCTION_LINES:
                        long.append(f"{rel}: {node.name} {n} lines")
    assert not long, long


def test_every_module_says_its_role_first() -> None:
    missing = [str(p.relative_to(ROOT)) for folder in ("catalog", "hardware", "tui")
               for p in sorted((ROOT / folder).rglob("*.py"))
               if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))]
    assert not missing, missing
