"""`refkeeper serve` (the editor's desk in a browser) and `refkeeper editor add`.

Thin commands: read the environment and options, call the library, print.
"""

from __future__ import annotations

import os
import sys

import click

from .._editors import add_editor
from ._common import Context, Group, pass_ctx


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but 127.0.0.1 needs editor accounts.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@pass_ctx
def serve(ctx: Context, host: str, port: int) -> None:
    """Start the editor's desk: a web application over the same database.

    \b
    Open http://127.0.0.1:8000/ in a browser. On 127.0.0.1 with no editor
    accounts, history records the name you type once (default: your user
    name). To listen on another address, first create accounts with
    `refkeeper editor add NAME`; then everyone signs in.
    """
    from ..web import serve as run

    settings = ctx.settings
    run(db_path=settings.db, host=host, port=port, crossref_url=settings.crossref_url,
        mailto=settings.mailto, default_editor=os.environ.get("REFKEEPER_EDITOR"), settings=settings)


@click.group(cls=Group)
def editor() -> None:
    """Editor accounts for the desk (`refkeeper serve`)."""


@editor.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (for scripts).")
@pass_ctx
def editor_add(ctx: Context, name: str, password_stdin: bool) -> None:
    """Create an editor account NAME; asks for the password twice (stored as an argon2 hash)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    ed = add_editor(ctx.store, name, password)
    click.echo(f"editor {ed.name!r} added")
