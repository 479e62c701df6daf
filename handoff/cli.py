"""The ``casedesk`` command: run the product, serve the app, manage agents, export or delete a contact's data,
train, upgrade the database, and the ``kb`` tools."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

from aiohttp import web

from bot import rasa_runtime
from bot.rasa_fleet import RasaFleet
from bot.tracker_stores import tracker_store_for
from handoff.editorial import publish_cli
from handoff.errors import ApiError
from handoff.logs import lines
from handoff.privacy import erasure
from handoff.settings import Settings, SettingsError, load_settings
from handoff.staff.accounts import AGENT, ROLES
from handoff.store import migrations
from knowledge_index import vectors
from knowledge_index.cli import add_kb_commands, is_kb_command, run_kb_command

log = logging.getLogger(__name__)


def _say(text: str) -> None:
    print(text, flush=True)


def _announcer(settings: Settings) -> Callable[[str], None]:
    """How `serve` and `run` tell the operator what they do: printed, or as log lines when the logs are JSON
    (``log_format``: every line a log collector reads is one)."""
    return log.info if settings.log_format == "json" else _say


# When the app stops, open connections (sockets of customers and agents) get this long to finish; they
# reconnect and resume with nothing lost, as every message is stored before it is delivered.
SHUTDOWN_SECONDS = 5.0


async def start_app(settings: Settings, fleet: RasaFleet | None = None) -> tuple[web.AppRunner, int]:
    """Start the app on ``settings.host``/``settings.port`` (0: an OS-chosen port) with its first agent account;
    returns its runner (``cleanup()`` stops it) and its port. `serve` and `run` start it so, and the tests
    (harness/servers.py) in their own process. ``fleet``: the Rasa processes the app owns (`run`)."""
    from handoff.app import create_app  # the whole app: imported only by the commands that serve it
    from handoff.web.keys import STAFF

    runner = web.AppRunner(create_app(settings, fleet), access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    port = runner.addresses[0][1]
    try:
        generated = await runner.app[STAFF].ensure_first(settings.first_agent_username, settings.first_agent_password)
    except ApiError as exc:  # CASEDESK_FIRST_AGENT_PASSWORD breaks the password rules
        await runner.cleanup()
        raise ValueError(f"the first agent account: {exc.message}") from None
    if generated:
        hand_over_first_password(settings, generated)
    return runner, port


def hand_over_first_password(settings: Settings, password: str, terminal: bool | None = None) -> None:
    """Show the generated first password on the terminal only; when standard output is no terminal (a
    service's log), write it to ``first_agent_password_file``, readable by its owner only (0600)."""
    name = settings.first_agent_username
    if sys.stdout.isatty() if terminal is None else terminal:
        _say(f"created the first agent account: {name} / {password}"
             " (shown once; set CASEDESK_FIRST_AGENT_PASSWORD to choose it)")
        return
    path = Path(settings.first_agent_password_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)  # a file that was there keeps no other mode
        file.write(password + "\n")
    _announcer(settings)(f"created the first agent account: {name}; its password is in {path} (readable by its owner"
                         " only): sign in, change it (casedesk agent passwd), then delete the file")


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve(settings: Settings) -> None:
    runner, port = await start_app(settings)
    _announcer(settings)(f"app listening on http://{settings.host}:{port}")
    try:
        await _wait_for_signal()
    finally:
        await runner.cleanup()


async def run(settings: Settings) -> None:
    """Everything: train Rasa if needed, start the app and Rasa, print the addresses."""
    # Rasa's HTTP API (a publish loads new models through it) takes this token; one per run unless set.
    # Rasa's calls to the actions carry the action token (bot/action_endpoint.py); one per run unless set.
    settings = dataclasses.replace(settings, rasa_token=settings.rasa_token or secrets.token_urlsafe(24),
                                   action_token=settings.action_token or secrets.token_urlsafe(24))
    say = _announcer(settings)
    model, trained = await asyncio.to_thread(rasa_runtime.ensure_model)
    say(f"Rasa model {'trained' if trained else 'up to date'}: {model.name}")
    # The Rasa processes have one owner, the fleet: it starts them, switches them at a publish (blue/green)
    # and stops them; their trackers outlive them (docs/operations.md, "Rasa processes and trackers").
    trackers = tracker_store_for(settings.database_url, settings.redis_url)
    await trackers.prepare()
    fleet = RasaFleet(settings.rasa_processes, urlparse(settings.rasa_url).port or 5005, settings.rasa_token,
                      settings.action_token, trackers, Path("var"))
    runner, port = await start_app(settings, fleet)
    try:
        say(f"starting {fleet.count} Rasa process{'es' if fleet.count > 1 else ''} on {', '.join(fleet.urls())}"
            f" (logs: var/rasa-<port>.log; trackers: {trackers.kind}) ...")
        await asyncio.to_thread(fleet.start, model, f"http://127.0.0.1:{port}/webhook")
        base = f"http://{settings.host}:{port}"
        say("")
        say(f"  Demo page with the chat widget: {base}/")
        say(f"  Agent panel:                    {base}/panel")
        say(f"  Reports (supervisors):          {base}/panel/reports")
        say(f"  Staff accounts (supervisors):   {base}/panel/staff")
        say(f"  Knowledge base (editors):       {base}/panel/editor")
        say("")
        say("Press Ctrl+C to stop.")
        await _wait_for_signal()
    finally:
        await asyncio.to_thread(fleet.stop)
        await runner.cleanup()


def _new_password(username: str, environ: Mapping[str, str]) -> str:
    """CASEDESK_NEW_AGENT_PASSWORD, else asked twice on the terminal."""
    given = environ.get("CASEDESK_NEW_AGENT_PASSWORD")
    if given:
        return given
    password = getpass.getpass(f"new password for {username} (at least 12 characters): ")
    if getpass.getpass("the same again: ") != password:
        raise ValueError("the two passwords differ")
    return password


async def agent_command(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    """``casedesk agent add|list|disable|enable|passwd|roles|revoke``: each change through `StaffAccounts`."""
    from handoff.staff.accounts import AgentAuth
    from handoff.staff.passwords import PasswordHasher
    from handoff.staff.roster import StaffAccounts
    from handoff.store.sql import SqlCaseStore

    command, username = args.agent_command, getattr(args, "username", "")
    password = _new_password(username, environ) if command in ("add", "passwd") else ""
    store = await SqlCaseStore.open(settings.database_url)
    afar = None
    try:
        auth = AgentAuth(store, settings.agent_session_hours, PasswordHasher(settings.password_hash_cost))
        staff = StaffAccounts(store, auth)
        if settings.redis_url:  # the nodes end the sockets of ended sessions at once (else within 5 s)
            from handoff.web.agent import SocketsFromAfar

            afar = SocketsFromAfar(store, settings.redis_url)
            auth.sessions_ended.append(afar.end_sockets)
        if command == "list":
            rows = [(a["username"], a["display_name"], ",".join(a["roles"]),
                     "disabled" if a["disabled"] else "active", str(a["sessions"])) for a in await staff.accounts()]
            header = ("username", "display name", "roles", "state", "sessions")
            widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
            for row in [header, *rows]:
                _say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        elif command == "add":
            roles = args.roles or [AGENT]
            await staff.add(username, password, args.display_name, roles)
            _say(f"agent {username} added ({', '.join(sorted(set(roles)))})")
        elif command == "disable":
            await staff.disable(username)
            _say(f"agent {username} disabled: it cannot sign in, its sessions are ended")
        elif command == "enable":
            await staff.enable(username)
            _say(f"agent {username} enabled")
        elif command == "passwd":
            await staff.set_password(username, password)
            _say(f"password of {username} changed; its sessions are ended")
        elif command == "roles":
            changed = await staff.set_roles(username, args.roles)
            _say(f"roles of {username}: {', '.join(sorted(changed.roles))}; its sessions are ended")
        elif command == "revoke":
            _, ended = await staff.revoke(username)
            _say(f"{ended} session{'' if ended == 1 else 's'} of {username} ended")
    finally:
        if afar is not None:
            await afar.close()
        await store.close()


async def contact(settings: Settings, command: str, customer_id: str, output: str | None, yes: bool) -> None:
    """Export everything stored about one contact (JSON, to stdout or ``output``), or delete it."""
    from handoff.store.sql import SqlCaseStore

    store = await SqlCaseStore.open(settings.database_url)
    try:
        if command == "export":
            text = json.dumps(await erasure.export_contact(store, customer_id, None), ensure_ascii=False, indent=2)
            if output:
                Path(output).write_text(text + "\n", encoding="utf-8")
                _say(f"contact {customer_id} exported to {output}")
            else:
                _say(text)
            return
        if not yes:
            cases = len(await store.customer_conversations(customer_id))
            try:
                answer = input(f"delete contact {customer_id} and its {cases} cases for good? [y/N] ")
            except EOFError:  # no terminal to ask: only with --yes
                answer = ""
            if answer.strip().lower() not in ("y", "yes"):
                _say("nothing deleted")
                return
        trackers = tracker_store_for(settings.database_url, settings.redis_url)  # Rasa's, as `casedesk run` sets
        deleted = await erasure.delete_contact(store, customer_id, None, trackers)
        rows = ", ".join(f"{table} {count}" for table, count in deleted["rows"].items())
        _say(f"contact {customer_id} deleted with {deleted['cases']} cases ({rows})")
    finally:
        await store.close()


async def database(settings: Settings, command: str, message: str | None) -> None:
    if command == "upgrade":
        before, after = await migrations.upgrade(settings.database_url)
        start = migrations.BASELINE if before.before_migrations else before.current
        if before.before_migrations:
            _say(f"the database was made before migrations: stamped revision {start}")
        if start != after.current:
            _say(f"database upgraded from revision {start or 'none (empty)'} to {after.describe()}")
        else:
            _say(f"database {'' if before.before_migrations else 'already '}at revision {after.describe()}")
    elif command == "current":
        revisions = await migrations.revisions(settings.database_url)
        _say(f"revision {revisions.describe()}" if revisions else
             f"no database yet at {settings.database_url} (the app or `casedesk db upgrade` creates it)")
    elif command == "revision":
        assert message is not None
        path = await migrations.new_revision(message)
        _say(f"wrote {path}: read it, complete it, and test it before committing it (docs/database.md)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="casedesk", description=__doc__)
    parser.add_argument("--settings", help="settings file (default: casedesk.toml if present)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="train if needed, start Rasa and the app, print the addresses")
    serve_parser = commands.add_parser("serve", help="start the app only (Rasa runs elsewhere)")
    serve_parser.add_argument("--port", type=int, help="port (0: let the OS choose)")
    commands.add_parser("train", help="train the Rasa model when its inputs changed")
    agent_parser = commands.add_parser("agent", help="manage agent accounts")
    agent_verbs = agent_parser.add_subparsers(dest="agent_command", required=True)
    role_help = "agent (default), supervisor (reports, contacts, staff), editor (knowledge base); repeatable"
    add = agent_verbs.add_parser("add", help="add an agent (password from CASEDESK_NEW_AGENT_PASSWORD or a prompt)")
    add.add_argument("username")
    add.add_argument("--display-name")
    add.add_argument("--role", action="append", choices=ROLES, dest="roles", help=role_help)
    agent_verbs.add_parser("list", help="every account: roles, active or disabled, sessions")
    for verb, text in (("disable", "the account cannot sign in; its sessions and sockets end"),
                       ("enable", "a disabled account may sign in again"),
                       ("passwd", "a new password (CASEDESK_NEW_AGENT_PASSWORD or a prompt); its sessions end"),
                       ("revoke", "end every session of the account (it may sign in again)")):
        agent_verbs.add_parser(verb, help=text).add_argument("username")
    roles = agent_verbs.add_parser("roles", help="set the account's roles; its sessions end")
    roles.add_argument("username")
    roles.add_argument("--role", action="append", choices=ROLES, dest="roles", required=True, help=role_help)
    contact_parser = commands.add_parser("contact", help="one contact's data (docs/privacy.md)")
    contact_command = contact_parser.add_subparsers(dest="contact_command", required=True)
    export = contact_command.add_parser("export", help="everything stored about the contact, as JSON")
    export.add_argument("contact_id")
    export.add_argument("--output", help="write the JSON to this file (default: standard output)")
    delete = contact_command.add_parser("delete", help="delete the contact and all their cases (none may be open)")
    delete.add_argument("contact_id")
    delete.add_argument("--yes", action="store_true", help="do not ask first")
    db_parser = commands.add_parser("db", help="the database's schema revision (docs/database.md)")
    db = db_parser.add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="bring the database to the newest revision (the app also does on start)")
    db.add_parser("current", help="show the database's revision and whether it is the newest")
    revision = db.add_parser("revision", help="for developers: write the next revision from the changes to"
                             " handoff/store/tables.py")
    revision.add_argument("-m", "--message", required=True, help="what the revision changes")
    by_help = "who publishes, for the history (default: the system user)"
    publish_parser = commands.add_parser("publish", help="rebuild the index, retrain Rasa if needed, run the quality"
                                         " gate and publish (docs/editing.md)")
    rollback_parser = commands.add_parser("rollback", help="make the previous publish live again")
    for command in (publish_parser, rollback_parser):
        command.add_argument("--by", default=getpass.getuser(), help=by_help)
    publish_parser.add_argument("--full", action="store_true", help="embed every text again (no reuse of the "
                                "published index's vectors)")
    commands.add_parser("publishes", help="the history of publishes and rollbacks, newest first")
    add_kb_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    vectors.one_search_thread()
    args = build_parser().parse_args(argv)
    lines.set_up("text")
    if is_kb_command(args):
        return run_kb_command(args)
    try:
        overrides = {"port": args.port} if getattr(args, "port", None) is not None else {}
        settings = load_settings(args.settings, environ, **overrides)
    except SettingsError as exc:
        print(f"error: settings: {exc}", file=sys.stderr)
        return 2
    if args.command in ("run", "serve"):
        lines.set_up(settings.log_format)  # the servers' logs: text or JSON lines (docs/operations.md)
    try:
        if args.command == "run":
            asyncio.run(run(settings))
        elif args.command == "serve":
            asyncio.run(serve(settings))
        elif args.command == "train":
            model, trained = rasa_runtime.ensure_model()
            _say(f"{'trained' if trained else 'up to date'}: {model}")
        elif args.command == "agent":
            asyncio.run(agent_command(settings, args, environ))
        elif args.command == "contact":
            asyncio.run(contact(settings, args.contact_command, args.contact_id, getattr(args, "output", None),
                                getattr(args, "yes", False)))
        elif args.command == "publish":
            return publish_cli.publish(settings, args.by, args.full)
        elif args.command == "publishes":
            return publish_cli.history(settings)
        elif args.command == "rollback":
            return publish_cli.rollback(settings, args.by)
        elif args.command == "db":
            asyncio.run(database(settings, args.db_command, getattr(args, "message", None)))
    except (rasa_runtime.RasaError, migrations.MigrationError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
