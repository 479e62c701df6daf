"""The app's settings: one frozen object, built once at the entry point and passed down.

Values come from a TOML settings file (``casedesk.toml`` by default) and are overridden by environment
variables named ``CASEDESK_<KEY>``. Secrets (the first agent's password, a database URL with a password)
come from the environment only. Nothing here reads the environment at import time: callers pass the
environment in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handoff.cases import masking
from handoff.cases.identity import DEFAULT_AUDIENCE, MIN_SECRET_LENGTH
from handoff.cases.routing import (
    DEFAULT_CATEGORIES,
    DEFAULT_QUEUES,
    AgentSpec,
    QueueSpec,
    parse_agents,
    parse_categories,
    parse_queues,
)
from handoff.limits.addresses import parse_proxies
from handoff.limits.table import LimitTable, parse_table
from handoff.logs.lines import FORMATS
from handoff.staff.passwords import DEFAULT_COST, MAX_COST, MIN_COST
from handoff.surveys.questions import DEFAULT_QUESTIONS, parse_questions

ENV_PREFIX = "CASEDESK_"
# Variables of the same prefix that are no setting: the settings file, and `casedesk agent add`'s password.
NOT_SETTINGS = frozenset({ENV_PREFIX + "SETTINGS", ENV_PREFIX + "NEW_AGENT_PASSWORD"})


def parse_origins(value: Any) -> tuple[str, ...]:
    """``widget_origins`` from the settings file: a list of origins such as ``https://shop.example.com``
    (a scheme, a host and an optional port; no path), each once."""
    if not isinstance(value, list):
        raise ValueError(f"widget_origins: expected a list of origins, got {value!r}")
    origins: list[str] = []
    for i, origin in enumerate(value):
        where = f"widget_origins[{i}]"
        if not isinstance(origin, str):
            raise ValueError(f"{where}: expected an origin such as https://shop.example.com, got {origin!r}")
        parts = urllib.parse.urlsplit(origin)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query
                or parts.fragment or parts.username or parts.password or port == -1 or origin != origin.strip()):
            raise ValueError(f"{where}: expected an origin such as https://shop.example.com (scheme, host and"
                             f" optional port, no path or trailing /), got {origin!r}")
        normal = origin.lower()
        if normal in origins:
            raise ValueError(f"{where}: {origin!r} is listed twice")
        origins.append(normal)
    return tuple(origins)


# The stores (handoff/store/sql.py) by the start of their URL: SQLite, PostgreSQL.
DATABASES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


class SettingsError(ValueError):
    """A setting is missing, unknown or has a bad value; the message names the key."""


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite+aiosqlite:///var/casedesk.db"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 15.0
    articles_dir: str = "training_data/articles"
    index_dir: str = ".cache/index"
    model_cache_dir: str = ".cache/models"
    thresholds_file: str = ""
    multilingual_thresholds_file: str = ""
    # The share of the bot's answers that must be right (docs/evaluation.md, "The operating point").
    answer_precision_target: float = 0.95
    max_message_length: int = 2000
    bot_name: str = "Velora & Hearthwood assistant"
    agent_session_hours: float = 12.0
    first_agent_username: str = "agent"
    abandon_after_seconds: float = 600.0
    bot_idle_seconds: float = 1800.0
    agent_grace_seconds: float = 120.0
    agent_capacity: int = 3
    sweep_interval_seconds: float = 30.0
    index_poll_seconds: float = 5.0
    # Publishing (docs/editing.md): the quality gate's own questions, and how much a metric may drop.
    regression_questions_file: str = "training_data/regression-questions.yml"
    publish_tolerance: float = 0.01
    redis_url: str = ""
    sla_warning_ratio: float = 0.8
    survey_link_days: float = 14.0
    # Privacy (docs/privacy.md): the region of phone numbers written without a country code, and how
    # long closed cases are kept (0: for ever).
    phone_region: str = "DE"
    retention_days: int = 0
    # Telegram (docs/channels.md): the Bot API's address; the bot's token and webhook secret are secrets.
    telegram_api_url: str = "https://api.telegram.org"
    # Tables and lists: only from the settings file (`STRUCTURED`).
    queues: tuple[QueueSpec, ...] = DEFAULT_QUEUES
    agents: tuple[AgentSpec, ...] = ()
    resolution_categories: tuple[str, ...] = DEFAULT_CATEGORIES
    survey_questions: tuple[str, ...] = DEFAULT_QUESTIONS
    mask_in_transcripts: tuple[str, ...] = (masking.CARD,)
    mask_in_reports: tuple[str, ...] = (masking.EMAIL, masking.PHONE, masking.CARD)
    widget_origins: tuple[str, ...] = ()  # other sites that may embed the web widget (docs/widget.md)
    # Staff accounts (docs/security.md, "Staff accounts and sessions"): scrypt's cost as log2 of N (OWASP: 17; lower
    # only for tests), and where the generated first password goes when no terminal shows it.
    password_hash_cost: int = DEFAULT_COST
    first_agent_password_file: str = "var/first-agent-password"
    # Limits (docs/settings.md, "Limits"; handoff/limits/): the [limits] table of rates, also set entry by
    # entry as CASEDESK_LIMITS_<NAME>; the proxies whose X-Forwarded-For is believed (also CASEDESK_TRUSTED_PROXIES,
    # separated by commas); the first delay after a wrong password, doubled for each further one.
    limits: LimitTable = dataclasses.field(default_factory=LimitTable)
    trusted_proxies: tuple[str, ...] = ()
    sign_in_delay_seconds: float = 0.5
    # A message a customer left while waiting keeps their case queued, though they are away, this long; then it
    # is abandoned like the others (handoff/cases/sweeper.py), so that queues cannot be filled for ever.
    left_message_days: float = 7.0
    # Customers (issue 17, docs/security.md, "Customers"): how long a conversation's token opens it after
    # its last message; the audience identity tokens must name and how old they may be to start one.
    conversation_token_days: float = 30.0
    identity_audience: str = DEFAULT_AUDIENCE
    identity_max_age_seconds: float = 3600.0
    # The suite's speed (issue 18): how often a node checks its agents' sockets against the sessions in the
    # store (ended by `casedesk agent` where no Redis tells the node, or expired); tests shorten it.
    session_recheck_seconds: float = 5.0
    # Secrets: only from the environment (CASEDESK_FIRST_AGENT_PASSWORD, ...), never from the file.
    first_agent_password: str | None = dataclasses.field(default=None, repr=False)
    identity_secret: str = dataclasses.field(default="", repr=False)  # shared with the host (cases.identity)
    telegram_bot_token: str = dataclasses.field(default="", repr=False)  # from BotFather; set: the channel runs
    telegram_webhook_secret: str = dataclasses.field(default="", repr=False)  # Telegram sends it with each update
    rasa_token: str = dataclasses.field(default="", repr=False)  # Rasa's HTTP API token (`casedesk run` makes one)
    # Issue 17, edges (docs/security.md): Rasa's calls to the action endpoint carry this token (`casedesk run`
    # makes one); the public address (https: HSTS), by default built from host and port.
    action_token: str = dataclasses.field(default="", repr=False)
    public_url: str = ""
    # Issue 18, overload (docs/operations.md, "Overload"; handoff/cases/bot_turns.py): bot turns at Rasa at once and
    # waiting for a place (beyond: the assistant is busy, a person is offered); Rasa's health check.
    bot_turns_in_flight: int = 4
    bot_turns_waiting: int = 100
    rasa_probe_interval_seconds: float = 0.25
    rasa_probe_timeout_seconds: float = 2.0
    # Issue 18, Rasa scales and remembers (docs/operations.md, "Rasa processes and trackers"): how many Rasa
    # processes `casedesk run` starts (on rasa_url's port and the ones after it); the Rasa servers that run
    # elsewhere (`casedesk serve`; default: rasa_url alone). Each conversation keeps to one of them; several
    # share conversations through Redis (redis_url), where the trackers and their locks are.
    rasa_processes: int = 1
    rasa_urls: tuple[str, ...] = ()
    # Issue 18, metrics and logs (docs/operations.md, "Metrics and logs"): the logs' format, text or json (one
    # object a line); /metrics answers the requests that bear metrics_token (a secret; unset, /metrics is off).
    log_format: str = "text"
    metrics_token: str = dataclasses.field(default="", repr=False)

    SECRETS = frozenset({"first_agent_password", "identity_secret", "telegram_bot_token", "telegram_webhook_secret",
                         "rasa_token", "action_token", "metrics_token"})

    @property
    def rasa_servers(self) -> tuple[str, ...]:
        """The Rasa servers of `casedesk serve`: rasa_urls, else rasa_url."""
        return self.rasa_urls or (self.rasa_url.rstrip("/"),)

    def __post_init__(self) -> None:
        if not self.public_url:
            object.__setattr__(self, "public_url", f"http://{self.host}:{self.port}")



def _fields() -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(key: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        pass
    elif kind is str and isinstance(value, str):
        return value
    elif kind in (int, float) and isinstance(value, str):
        with contextlib.suppress(ValueError):
            return kind(value)
    elif (kind is int and isinstance(value, int)) or (kind is float and isinstance(value, int | float)):
        return kind(value)
    raise SettingsError(f"{key}: expected {kind.__name__}, got {value!r}")


MAX_RASA_PROCESSES = 16


def parse_rasa_urls(value: Any) -> tuple[str, ...]:
    """``rasa_urls``: a list of http(s) addresses; the environment gives them as one string, separated by
    commas."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise ValueError(f"rasa_urls: expected a list of http(s) URLs, got {value!r}")
    urls: list[str] = []
    for i, url in enumerate(value):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"rasa_urls[{i}]: must be an http(s) URL, got {url!r}")
        if url.rstrip("/") in urls:
            raise ValueError(f"rasa_urls[{i}]: {url!r} is listed twice")
        urls.append(url.rstrip("/"))
    return tuple(urls)


STRUCTURED = {"queues": parse_queues, "agents": parse_agents, "resolution_categories": parse_categories,
              "survey_questions": parse_questions,
              "mask_in_transcripts": masking.parse_kinds("mask_in_transcripts"),
              "mask_in_reports": masking.parse_kinds("mask_in_reports"),
              "widget_origins": parse_origins, "limits": parse_table, "trusted_proxies": parse_proxies,
              "rasa_urls": parse_rasa_urls}
LIMITS_ENV = ENV_PREFIX + "LIMITS_"  # CASEDESK_LIMITS_STARTS_PER_ADDRESS=5/minute: one entry of [limits]
FROM_ENV_TOO = frozenset({"trusted_proxies", "rasa_urls"})  # structured, yet also from the environment
MAX_LINK_DAYS = 3650
TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")
# Issue 17, edges: the action endpoint's token, and the public address.
MIN_ACTION_TOKEN = 16
ACTION_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_KINDS = {"str": str, "int": int, "float": float, "str | None": str}


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings from a TOML file, then ``CASEDESK_*`` variables, then keyword overrides."""
    environ = environ or {}
    fields = _fields()
    values: dict[str, Any] = {}

    if path is None:
        path = environ.get(ENV_PREFIX + "SETTINGS", "casedesk.toml")
        explicit = ENV_PREFIX + "SETTINGS" in environ
    else:
        explicit = True
    path = Path(path)
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: {exc}") from exc
        for key, value in data.items():
            if key not in fields:
                raise SettingsError(f"{path}: unknown setting {key!r}")
            if key in Settings.SECRETS:
                raise SettingsError(
                    f"{path}: {key} is a secret; set {ENV_PREFIX}{key.upper()} in the environment"
                )
            if key == "database_url" and isinstance(value, str) and urllib.parse.urlsplit(value).password:
                raise SettingsError(f"{path}: database_url holds a password, a secret; set the whole URL as"
                                    f" {ENV_PREFIX}DATABASE_URL in the environment")
            if key in STRUCTURED:
                try:
                    value = STRUCTURED[key](value)
                except ValueError as exc:
                    raise SettingsError(f"{path}: {exc}") from None
            values[key] = value
    elif explicit:
        raise SettingsError(f"settings file {path} does not exist")

    limits: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if name.startswith(LIMITS_ENV):
            limits[name[len(LIMITS_ENV):].lower()] = value
            continue
        if key not in fields:
            raise SettingsError(f"{name}: unknown setting {key!r}")
        if key in STRUCTURED and key not in FROM_ENV_TOO:
            raise SettingsError(f"{name}: {key} can only be set in the settings file")
        try:
            values[key] = STRUCTURED[key](value) if key in STRUCTURED else value
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from None
    if limits:
        try:
            values["limits"] = parse_table(limits, values.get("limits"))
        except ValueError as exc:
            raise SettingsError(f"{LIMITS_ENV}*: {exc}") from None

    values.update(overrides)
    typed: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise SettingsError(f"unknown setting {key!r}")
        if key in STRUCTURED:
            typed[key] = value
            continue
        kind = _KINDS[str(fields[key].type)]
        typed[key] = None if value is None and key in Settings.SECRETS else _coerce(key, value, kind)
    settings = Settings(**typed)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if not 0 <= s.port <= 65535:
        raise SettingsError(f"port: must be 0..65535, got {s.port}")
    for key in ("thresholds_file", "multilingual_thresholds_file"):
        path = getattr(s, key)
        if path and not Path(path).is_file():
            raise SettingsError(f"{key}: {path} does not exist")
    if not 0.5 <= s.answer_precision_target < 1:
        raise SettingsError("answer_precision_target: must be at least 0.5 and below 1, "
                            f"got {s.answer_precision_target:g}")
    if not 0 <= s.publish_tolerance < 1:
        raise SettingsError(f"publish_tolerance: must be at least 0 and below 1, got {s.publish_tolerance}")
    if not 1 <= s.agent_capacity <= 100:
        raise SettingsError(f"agent_capacity: must be 1..100, got {s.agent_capacity}")
    if not 1 <= s.max_message_length <= 100_000:
        raise SettingsError(f"max_message_length: must be 1..100000, got {s.max_message_length}")
    if not 0 <= s.sign_in_delay_seconds <= 60:
        raise SettingsError(f"sign_in_delay_seconds: must be 0..60, got {s.sign_in_delay_seconds:g}")
    for key in ("rasa_timeout_seconds", "agent_session_hours", "abandon_after_seconds", "left_message_days",
                "bot_idle_seconds", "agent_grace_seconds", "sweep_interval_seconds", "index_poll_seconds"):
        if getattr(s, key) <= 0:
            raise SettingsError(f"{key}: must be positive")
    if not 0 < s.survey_link_days <= MAX_LINK_DAYS:
        raise SettingsError(f"survey_link_days: must be more than 0 and at most {MAX_LINK_DAYS}, "
                            f"got {s.survey_link_days:g}")
    # Customers (issue 17)
    if not 0 < s.conversation_token_days <= MAX_LINK_DAYS:
        raise SettingsError(f"conversation_token_days: must be more than 0 and at most {MAX_LINK_DAYS}, "
                            f"got {s.conversation_token_days:g}")
    if not s.identity_audience.strip() or len(s.identity_audience) > 200:
        raise SettingsError("identity_audience: must be 1 to 200 characters")
    if not 60 <= s.identity_max_age_seconds <= 7 * 86400:
        raise SettingsError(f"identity_max_age_seconds: must be 60 to 604800 (a week), "
                            f"got {s.identity_max_age_seconds:g}")
    if not 0 < s.sla_warning_ratio < 1:
        raise SettingsError(f"sla_warning_ratio: must be between 0 and 1, got {s.sla_warning_ratio}")
    # Staff accounts
    if not MIN_COST <= s.password_hash_cost <= MAX_COST:
        raise SettingsError(f"password_hash_cost: must be {MIN_COST}..{MAX_COST} (log2 of scrypt's N; OWASP's is"
                            f" {DEFAULT_COST}, lower only for tests), got {s.password_hash_cost}")
    if not s.first_agent_password_file.strip():
        raise SettingsError("first_agent_password_file: must name a file")
    if s.redis_url and not s.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"redis_url: must be a redis:// URL, got {s.redis_url!r}")
    if s.identity_secret and len(s.identity_secret) < MIN_SECRET_LENGTH:
        raise SettingsError(f"identity_secret: must be at least {MIN_SECRET_LENGTH} characters")
    if not s.telegram_api_url.startswith(("http://", "https://")):
        raise SettingsError(f"telegram_api_url: must be an http(s) URL, got {s.telegram_api_url!r}")
    if s.telegram_bot_token and not TELEGRAM_SECRET.fullmatch(s.telegram_webhook_secret):
        raise SettingsError("telegram_webhook_secret: needed with telegram_bot_token: 16 to 256 characters, "
                            "letters, digits, _ and - (Telegram's secret_token)")
    # Issue 17, edges.
    if s.action_token and len(s.action_token) < MIN_ACTION_TOKEN:
        raise SettingsError(f"action_token: must be at least {MIN_ACTION_TOKEN} characters")
    if s.action_token and not ACTION_TOKEN.fullmatch(s.action_token):
        raise SettingsError("action_token: letters, digits, _ and - only (Rasa sends it in a query parameter)")
    _check_public_url(s.public_url)
    # Issue 18, overload.
    if not 1 <= s.bot_turns_in_flight <= 1000:
        raise SettingsError(f"bot_turns_in_flight: must be 1..1000, got {s.bot_turns_in_flight}")
    if not 0 <= s.bot_turns_waiting <= 100_000:
        raise SettingsError(f"bot_turns_waiting: must be 0..100000, got {s.bot_turns_waiting}")
    if not 0.05 <= s.rasa_probe_interval_seconds <= 60:
        raise SettingsError(f"rasa_probe_interval_seconds: must be 0.05..60, got {s.rasa_probe_interval_seconds:g}")
    if not 0.1 <= s.rasa_probe_timeout_seconds <= 60:
        raise SettingsError(f"rasa_probe_timeout_seconds: must be 0.1..60, got {s.rasa_probe_timeout_seconds:g}")
    # Issue 18, metrics and logs.
    if s.log_format not in FORMATS:
        raise SettingsError(f"log_format: must be one of {', '.join(FORMATS)}, got {s.log_format!r}")
    if s.metrics_token and (len(s.metrics_token) < MIN_ACTION_TOKEN or not ACTION_TOKEN.fullmatch(s.metrics_token)):
        raise SettingsError(f"metrics_token: at least {MIN_ACTION_TOKEN} characters, letters, digits, _ and - only")
    if not s.rasa_url.startswith(("http://", "https://")):
        raise SettingsError(f"rasa_url: must be an http(s) URL, got {s.rasa_url!r}")
    # Issue 18, Rasa scales and remembers.
    if not 1 <= s.rasa_processes <= MAX_RASA_PROCESSES:
        raise SettingsError(f"rasa_processes: must be 1..{MAX_RASA_PROCESSES}, got {s.rasa_processes}")
    several = "rasa_processes" if s.rasa_processes > 1 else "rasa_urls" if len(s.rasa_urls) > 1 else ""
    if several and not s.redis_url.startswith("redis://"):
        raise SettingsError(f"{several}: several Rasa processes share conversations through Redis's tracker and"
                            " lock stores: set redis_url (a redis:// URL)")
    try:
        masking.check_region(s.phone_region)
    except ValueError as exc:
        raise SettingsError(f"phone_region: {exc}") from None
    if not 0 <= s.retention_days <= 36500:
        raise SettingsError(f"retention_days: must be 0 (keep for ever) or a number of days up to 36500, "
                            f"got {s.retention_days}")
    # The suite's speed (issue 18)
    if not 0 < s.session_recheck_seconds <= 300:
        raise SettingsError(f"session_recheck_seconds: must be more than 0 and at most 300, "
                            f"got {s.session_recheck_seconds:g}")
    # The value is not shown: a PostgreSQL URL may hold a password.
    if not s.database_url.startswith(DATABASES):
        raise SettingsError("database_url: must start with sqlite+aiosqlite:// (SQLite) or postgresql+asyncpg://"
                            " (PostgreSQL)")
    if s.database_url.startswith("postgresql") and urllib.parse.urlsplit(s.database_url).query:
        raise SettingsError("database_url: a PostgreSQL URL takes no options (?...): asyncpg and psycopg, which"
                            " both get them, name them differently")


def _check_public_url(url: str) -> None:
    """``public_url``: the address customers and staff reach the app at, an http(s) origin with an
    optional path (no query, no trailing /)."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment
            or parts.username or parts.password or port == -1 or url.endswith("/") or url != url.strip()):
        raise SettingsError(f"public_url: expected an address such as https://help.example.com (scheme, host, "
                            f"optional port and path, no trailing /), got {url!r}")
