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
