"""The layers import in one direction only (docs/architecture.md)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "ocppd"

# What each layer may import, besides itself.
ALLOWED = {
    "protocol": set(),
    "rpc": {"protocol"},
    "transport": {"protocol", "rpc"},
    "csms": {"protocol", "rpc", "transport"},
    "chargepoint": {"protocol", "rpc", "transport"},
    "api": {"protocol", "rpc", "transport", "csms"},
    "web": {"protocol", "rpc", "transport", "csms", "api"},
    "cli": {"protocol", "rpc", "transport", "csms", "chargepoint", "api", "web"},
}


def imported_layers(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "ocppd" and len(parts) > 1:
                layers.add(parts[1])
    return layers


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_below_itself(layer: str) -> None:
    folder = PACKAGE / layer
    if not folder.exists():
        pytest.skip(f"{layer} does not exist yet")
    for path in folder.rglob("*.py"):
        wrong = imported_layers(path) - ALLOWED[layer] - {layer} - {"__init__"}
        assert not wrong, f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}"


def test_every_layer_is_declared() -> None:
    layers = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert layers <= set(ALLOWED), f"undeclared layers: {sorted(layers - set(ALLOWED))}"


def imported_modules(path: Path) -> set[str]:
    """Every ocppd module the file imports, under TYPE_CHECKING too (`from ocppd.csms import
    x` counts as `ocppd.csms.x`)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return {name for name in modules if name.startswith("ocppd.")}


def test_the_central_system_s_parts_do_not_import_it_back() -> None:
    """central_system imports its parts; none of them imports it (they use
    `csms/system_services.py`): the arrows point one way."""
    central = "ocppd.csms.central_system"
    parts = imported_modules(PACKAGE / "csms" / "central_system.py")
    assert "ocppd.csms.charge_point" in parts, "the import scan finds the parts"
    for part in sorted(parts):
        relative = Path(*part.split(".")[1:])
        path = PACKAGE / relative.with_suffix(".py")
        if not path.exists():
            path = PACKAGE / relative / "__init__.py"
        if path.exists():
            assert central not in imported_modules(path), f"{part} imports {central}"
