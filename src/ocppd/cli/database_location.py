"""Where the central system's database is, for every command that opens it.

One rule, so that no command silently works on the wrong database: the data directory is one
absolute place per user (`$XDG_DATA_HOME/ocppd`, else `~/.local/share/ocppd`), the same from
any working directory; `--data-dir` / `OCPPD_DATA_DIR` or `--database` / `OCPPD_DATABASE`
choose another. `ocppd serve` creates its database there. The commands that open the
database themselves (`token create|list|revoke`, `charge-point add`, `db upgrade`) open an
existing one only: where there is none, they say so on stderr, naming the path, and exit 1,
unless `--create` is given. `--config` takes the database from `ocppd serve`'s TOML file.
"""

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ocppd.csms.settings import Settings, default_data_dir

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

DATA_DIR_SHOWN = "$XDG_DATA_HOME/ocppd, else ~/.local/share/ocppd"


def data_dir_option(help: str = "Where the SQLite database and files are.") -> Any:
    return click.option(
        "--data-dir",
        envvar="OCPPD_DATA_DIR",
        show_envvar=True,
        type=click.Path(file_okay=False, path_type=Path),
        default=default_data_dir,
        show_default=DATA_DIR_SHOWN,
        help=help,
    )


def config_option(
    load: Callable[[click.Context, click.Parameter, Path | None], Any], help: str
) -> Any:
    """`--config FILE`, read before the other options (`load` sets their defaults)."""
    return click.option(
        "--config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        callback=load,
        is_eager=True,
        expose_value=False,
        help=help,
    )


def database_option() -> Any:
    return click.option(
        "--database",
        envvar="OCPPD_DATABASE",
        show_envvar=True,
        default="",
        help="Database URL; empty = SQLite in the data dir.",
    )


class NoDatabase(click.ClickException):
    """Printed on stderr as `Error: <message>`, exit status 1."""


@dataclass(frozen=True)
class ExistingDatabase:
    """The database a command writes to directly: opened only if it is there already."""

    url: str
    create: bool

    @asynccontextmanager
    async def engine(self) -> AsyncIterator["AsyncEngine"]:
        """An engine on the database, its migrations applied; `NoDatabase` when it holds no
        ocppd schema yet and `create` was not given."""
        from sqlalchemy.exc import DBAPIError

        from ocppd.csms.database import create_engine, holds_schema, sqlite_path, upgrade

        path = sqlite_path(self.url)
        if path is not None and not path.exists():
            if not self.create:
                raise NoDatabase(
                    f"no database at {path}: give --data-dir (or --database) where `ocppd "
                    "serve` keeps it, or --create to create a new one there"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            empty = not await holds_schema(self.url)
        except (OSError, TimeoutError, DBAPIError) as error:
            raise NoDatabase(f"cannot open the database {_shown(self.url)}: {error}") from None
        if empty and not self.create:
            raise NoDatabase(
                f"{self.url} holds no ocppd database: give --database where `ocppd serve` "
                "keeps it, or --create to create one there"
            )
        engine = create_engine(self.url)
        try:
            await upgrade(engine)
            if empty:
                click.echo(f"ocppd: created a new database at {self.url}", err=True)
            yield engine
        finally:
            await engine.dispose()


def _shown(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable URL)"


def _database_of_config(ctx: click.Context, _: click.Parameter, path: Path | None) -> Path | None:
    """The database `ocppd serve --config path` uses, as this command's defaults (a flag or
    an `OCPPD_*` variable still wins, as for serve)."""
    from ocppd.cli.serve import serve_config

    if path is not None:
        chosen = {k: v for k, v in serve_config(path).items() if k in ("data_dir", "database")}
        ctx.default_map = {**(ctx.default_map or {}), **chosen}
    return path


def existing_database(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--database`, `--data-dir` and `--create`, given to `func` as `database`, an
    `ExistingDatabase`."""

    @functools.wraps(func)
    def command(database: str, data_dir: Path, create: bool, **values: Any) -> Any:
        settings = Settings(database=database, data_dir=data_dir.expanduser().absolute())
        return func(database=ExistingDatabase(settings.database_url(), create), **values)

    options = [
        config_option(
            _database_of_config,
            "The TOML file of `ocppd serve --config`: its data-dir and database.",
        ),
        database_option(),
        data_dir_option(),
        click.option(
            "--create",
            is_flag=True,
            help="Create the database if there is none (else: refuse, exit 1).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command
