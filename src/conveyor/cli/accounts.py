"""`conveyor user …` and `conveyor token …`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from conveyor.cli.app import app, emit_json, guarded, say, state
from conveyor.errors import UsageError

user_app = typer.Typer(help="Accounts and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _grant_pairs(items: list[str] | None) -> list[tuple[str, str]]:
    pairs = []
    for item in items or []:
        category, eq, role = item.rpartition("=")
        if not eq or not category or not role:
            raise UsageError("each --grant takes the form CATEGORY=ROLE")
        pairs.append((category, role))
    return pairs


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError("no password was given on standard input")
    return password


@user_app.command("add")
@guarded
def user_add(
    name: str,
    admin: Annotated[bool, typer.Option("--admin", help="May do everything.")] = False,
    grant: Annotated[
        list[str] | None, typer.Option("--grant", help="CATEGORY=ROLE (repeatable).")
    ] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create an account; without --password-stdin a one-time password is printed."""
    password = _read_password() if password_stdin else None
    _, generated = state.backend.add_user(name, password, admin, _grant_pairs(grant))
    say(f"user {name} added")
    if generated:
        typer.echo(generated)


@user_app.command("list")
@guarded
def user_list(json_out: JsonFlag = False) -> None:
    """Every account with its grants."""
    found = state.backend.list_users()
    if json_out:
        emit_json(found)
        return
    for user in found:
        grants = ", ".join(f"{g['category']}={g['role']}" for g in user["grants"]) or "-"
        flags = " admin" if user["is_admin"] else ""
        flags += " disabled" if user["disabled"] else ""
        typer.echo(f"{user['name']:<24}{flags:<16} {grants}")


@user_app.command("passwd")
@guarded
def user_passwd(name: str, password_stdin: PasswordStdin = False) -> None:
    """Set an account's password (read from stdin, or asked for)."""
    if password_stdin:
        password = _read_password()
    else:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True, err=True)
    state.backend.set_password(name, password)
    say(f"password of {name} changed")


@user_app.command("disable")
@guarded
def user_disable(
    name: str,
    enable: Annotated[bool, typer.Option("--enable", help="Enable it again.")] = False,
) -> None:
    """Disable an account (its tokens and sessions stop working at once)."""
    state.backend.disable_user(name, not enable)
    say(f"user {name} {'enabled' if enable else 'disabled'}")


@user_app.command("grant")
@guarded
def user_grant(
    name: str,
    grant: Annotated[str, typer.Argument(help="CATEGORY=ROLE (CATEGORY * for all).")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the role away.")] = False,
) -> None:
    """Give (or with --revoke take away) a role in a category."""
    ((category, role),) = _grant_pairs([grant])
    changed = state.backend.grant(name, category, role, revoke)
    verb = "revoked from" if revoke else "granted to"
    say(f"{role} in {category} {verb} {name}" + ("" if changed else " (no change)"))


@token_app.command("create")
@guarded
def token_create(
    user: str,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "default",
) -> None:
    """Create an API token and print it alone on stdout (it is shown only once)."""
    plain, _ = state.backend.create_token(user, name)
    typer.echo(plain)


@token_app.command("list")
@guarded
def token_list(
    user: Annotated[str | None, typer.Option("--user-name", help="Only this user's.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Tokens (never their values)."""
    found = state.backend.list_tokens(user)
    if json_out:
        emit_json(found)
        return
    for token in found:
        revoked = f" revoked {token['revoked_at']}" if token["revoked_at"] else ""
        typer.echo(f"{token['id']:>5}  {token['user']:<20} {token['name']:<20}{revoked}")


@token_app.command("revoke")
@guarded
def token_revoke(token_id: int) -> None:
    """Revoke a token: it stops working at once."""
    state.backend.revoke_token(token_id)
    say(f"token {token_id} revoked")
