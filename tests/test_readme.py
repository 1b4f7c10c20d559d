"""The README's demos run exactly as written: its blocks marked `<!-- demo -->`, in order, in
one `bash` with `set -euo pipefail`, against a real `ocppd serve` as `make serve` runs it (a
free port, given as the `OCPPD_URL` the demo itself reads; a fresh user's default data dir),
from a directory of their own (`.venv` there is this checkout's)."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_serve import Served

ROOT = Path(__file__).parent.parent
DEMO = re.compile(r"^<!-- demo -->\n```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
DEFAULT_URL = "${OCPPD_URL:-http://127.0.0.1:9000}"


def demos() -> list[str]:
    return DEMO.findall((ROOT / "README.md").read_text())


def test_the_readme_starts_with_make_serve_and_make_test() -> None:
    first = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert first is not None
    commands = [line.split("#")[0].strip() for line in first[1].splitlines()]
    assert commands == ["make serve", "make test"]


def test_the_demos_reach_the_server_only_through_ocppd_url() -> None:
    """The test below serves on another port: a demo command with the port written out
    would miss it (or reach whatever else listens on 9000)."""
    blocks = demos()
    assert len(blocks) >= 3, "the Using it, diagnostics and site demos are marked"
    script = "\n".join(blocks)
    assert script.count(DEFAULT_URL) == 1
    assert "9000" not in script.replace(DEFAULT_URL, "")


def make_serve(*args: str) -> str:
    """The command `make serve` runs (`make -n`: printed, not run)."""
    env = {k: v for k, v in os.environ.items() if k != "PORT" and not k.startswith("MAKE")}
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(ROOT), "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return printed.strip().splitlines()[-1]


def test_make_serve_is_the_demos_server_on_the_port_asked() -> None:
    """What the demo test starts: `ocppd serve --registration open`, the default data dir
    (no --data-dir: the one every command uses); PORT=... picks the port."""
    assert make_serve() == ".venv/bin/ocppd serve --registration open"
    assert make_serve("PORT=9100") == ".venv/bin/ocppd serve --registration open --port 9100"


def api(port: int, token: str, path: str) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_the_readme_demos_run_as_written(tmp_path: Path) -> None:
    missing = [tool for tool in ("curl", "jq") if shutil.which(tool) is None]
    if missing:
        # The demos are an operator's shell session: they need what the README says they do.
        why = f"the README's demos need {' and '.join(missing)} (apt-get install curl jq)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    work = tmp_path / "checkout"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")
    user = {k: v for k, v in os.environ.items() if k not in ("XDG_DATA_HOME", "OCPPD_DATA_DIR")}
    user = {k: v for k, v in user.items() if not k.startswith("OCPPD_")}
    user["HOME"] = str(tmp_path / "home")
    served = Served(None, env=user, cwd=work)
    script = "set -euo pipefail\n" + "\n".join(demos())
    env = {**user, "OCPPD_URL": f"http://127.0.0.1:{served.port}"}
    demo = subprocess.Popen(
        ["bash", "-c", script],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the background simulator with it: stopped as a group
    )
    try:
        output, _ = demo.communicate(timeout=600)
        assert demo.returncode == 0, output
        admin = subprocess.run(
            [str(work / ".venv/bin/ocppd"), "token", "create", "--role", "admin"],
            env=user,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        transactions = api(served.port, admin, "/transactions?limit=100")["items"]
    finally:
        with contextlib.suppress(ProcessLookupError):  # a demo that failed half-way
            os.killpg(demo.pid, signal.SIGKILL)
        demo.wait()
        served.stop()
    charged = {t["chargePointId"] for t in transactions}
    assert charged == {f"CP1-{n}" for n in range(1, 11)}, output
    assert (work / "diag.log").stat().st_size > 0
    assert '["CP1-1","CP1-2","CP1-3"]' in output  # the site's charge points
    assert '"siteId": "depot"' in output and '"allocated": ' in output  # its allocation
    assert "BootNotification" in output and "errors" in output  # the simulator's summary
