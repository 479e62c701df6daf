from __future__ import annotations

import re
from pathlib import Path

import pytest

from handoff.limits.table import LimitTable
from handoff.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_file_then_environment(tmp_path: Path) -> None:
    file = tmp_path / "casedesk.toml"
    file.write_text('port = 9000\nrasa_timeout_seconds = 4\nbot_name = "Helper"\n')
    settings = load_settings(file, {"CASEDESK_PORT": "9100", "CASEDESK_FIRST_AGENT_PASSWORD": "s3cret-pass"})
    assert settings.port == 9100  # the environment wins over the file
    assert settings.rasa_timeout_seconds == 4.0
    assert settings.bot_name == "Helper"
    assert settings.first_agent_password == "s3cret-pass"
    assert "s3cret" not in repr(settings)
    assert load_settings(None, {}).port == 8080  # no casedesk.toml in the project: the defaults


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("prot = 1\n", {}, "unknown setting 'prot'"),
        ('first_agent_password = "x"\n', {}, "first_agent_password is a secret"),
        ("port = 'high'\n", {}, "port: expected int"),
        ("port = 70000\n", {}, "port: must be 0..65535"),
        ("", {"CASEDESK_RASA_TIMEOUT_SECONDS": "lots"}, "rasa_timeout_seconds: expected float"),
        ("", {"CASEDESK_THRESHOLDS_FILE": "/nowhere.json"}, "thresholds_file: /nowhere.json does not exist"),
        ("answer_precision_target = 1.0\n", {}, "answer_precision_target: must be at least 0.5 and below 1, got 1"),
        ("", {"CASEDESK_ANSWER_PRECISION_TARGET": "0.4"}, "answer_precision_target: must be at least 0.5"),
        ("", {"CASEDESK_NO_SUCH": "1"}, "CASEDESK_NO_SUCH: unknown setting"),
        ("", {"CASEDESK_DATABASE_URL": "mysql://x"},
         "database_url: must start with sqlite+aiosqlite:// (SQLite) or postgresql+asyncpg:// (PostgreSQL)"),
        ("", {"CASEDESK_DATABASE_URL": "postgresql://casedesk@db/casedesk"}, "or postgresql+asyncpg://"),
        ("", {"CASEDESK_DATABASE_URL": "postgresql+asyncpg://casedesk@db/casedesk?ssl=require"},
         "database_url: a PostgreSQL URL takes no options (?...)"),
        ('database_url = "postgresql+asyncpg://casedesk:s3cret@db/casedesk"\n', {},
         "database_url holds a password, a secret; set the whole URL as CASEDESK_DATABASE_URL in the environment"),
        ("port = [\n", {}, "casedesk.toml"),
        ('telegram_bot_token = "123:abc"\n', {}, "telegram_bot_token is a secret"),
        ("", {"CASEDESK_TELEGRAM_BOT_TOKEN": "123:abc"}, "telegram_webhook_secret: needed with telegram_bot_token"),
        ("", {"CASEDESK_TELEGRAM_BOT_TOKEN": "123:abc", "CASEDESK_TELEGRAM_WEBHOOK_SECRET": "short"},
         "telegram_webhook_secret: needed with telegram_bot_token"),
        ("", {"CASEDESK_TELEGRAM_API_URL": "api.telegram.org"}, "telegram_api_url: must be an http(s) URL"),
        # staff accounts
        ("password_hash_cost = 13\n", {}, "password_hash_cost: must be 14..20 (log2 of scrypt's N; OWASP's is 17"),
        ("", {"CASEDESK_PASSWORD_HASH_COST": "21"}, "password_hash_cost: must be 14..20"),
        ('first_agent_password_file = " "\n', {}, "first_agent_password_file: must name a file"),
        # overload (issue 18)
        ("bot_turns_in_flight = 0\n", {}, "bot_turns_in_flight: must be 1..1000, got 0"),
        ("", {"CASEDESK_BOT_TURNS_WAITING": "-1"}, "bot_turns_waiting: must be 0..100000, got -1"),
        ("", {"CASEDESK_BOT_TURNS_WAITING": "many"}, "bot_turns_waiting: expected int"),
        ("rasa_probe_interval_seconds = 0\n", {}, "rasa_probe_interval_seconds: must be 0.05..60, got 0"),
        ("", {"CASEDESK_RASA_PROBE_TIMEOUT_SECONDS": "0.01"}, "rasa_probe_timeout_seconds: must be 0.1..60, got 0.01"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, text: str, environ: dict[str, str], message: str) -> None:
    file = tmp_path / "casedesk.toml"
    file.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(file, environ)


def test_the_database_is_sqlite_or_postgresql(tmp_path: Path) -> None:
    file = tmp_path / "casedesk.toml"
    file.write_text('database_url = "postgresql+asyncpg://casedesk@db.internal:5432/casedesk"\n')
    assert load_settings(file, {}).database_url == "postgresql+asyncpg://casedesk@db.internal:5432/casedesk"
    secret = "postgresql+asyncpg://casedesk:s3cret@db.internal/casedesk"  # with a password: the environment
    assert load_settings(file, {"CASEDESK_DATABASE_URL": secret}).database_url == secret
    assert load_settings(None, {}).database_url == "sqlite+aiosqlite:///var/casedesk.db"
    with pytest.raises(SettingsError) as refused:
        load_settings(file, {"CASEDESK_DATABASE_URL": "postgres://casedesk:s3cret@db.internal/casedesk"})
    assert "s3cret" not in str(refused.value)


def test_a_named_settings_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(None, {"CASEDESK_SETTINGS": str(tmp_path / "missing.toml")})


def test_the_example_settings_file_loads_with_its_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    settings = load_settings("casedesk.example.toml", {})
    assert [(q.name, q.assignment) for q in settings.queues] == [
        ("german", "auto"), ("workshop", "pick"), ("mobile", "pick"), ("general", "pick")]
    german, workshop, mobile, general = settings.queues
    assert german.languages == {"de"} and german.skills == {"german"}
    assert "workshop" in workshop.topics and mobile.channels == {"mobile"}
    assert not (general.topics or general.languages or general.channels or general.skills)  # takes the rest
    assert dict(workshop.first_response_seconds) == {"high": 180, "normal": 600}
    assert dict(mobile.first_response_seconds) == {"high": 60, "normal": 300}  # normal: the default
    assert [(a.username, a.capacity) for a in settings.agents] == [("anna", 2), ("bert", 4), ("chris", None)]
    assert "problem_solved" in settings.resolution_categories


def test_the_settings_doc_shows_the_example_file() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text()
    shown = re.search(r"^## Queues, skills and routing\n.*?^```toml\n(.*?)^```", doc, re.S | re.M)
    assert shown and shown.group(1) in (ROOT / "casedesk.example.toml").read_text()


QUEUE = '[[queues]]\nname = "general"\n'


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ('[[queues]]\nname = "general"\ncolour = "red"\n', {}, "queues[0]: unknown key 'colour'"),
        ("[[queues]]\nskills = []\n", {}, "queues[0]: name is required"),
        (QUEUE + QUEUE, {}, "queues[1].name: queue 'general' is defined twice"),
        (f'[[queues]]\nname = "{"q" * 41}"\n', {}, "queues[0].name: expected a name of 1..40 characters"),
        ("queues = []\n", {}, "queues: expected one or more [[queues]] tables"),
        (QUEUE + 'assignment = "round_robin"\n', {},
         "queues[0].assignment: expected one of pick, auto, got 'round_robin'"),
        (QUEUE + 'skills = "german"\n', {}, "queues[0].skills: expected a list of names, got 'german'"),
        (QUEUE + "first_response_seconds = { urgent = 60 }\n", {},
         "queues[0].first_response_seconds: unknown priority 'urgent'; priorities are high, normal"),
        (QUEUE + "first_response_seconds = 60\n", {},
         "queues[0].first_response_seconds: expected a table like { high = 120, normal = 300 }, got 60"),
        (QUEUE + "resolution_seconds = { normal = 0 }\n", {},
         "queues[0].resolution_seconds.normal: expected a positive number of seconds, got 0"),
        (QUEUE + "resolution_seconds = { high = -5 }\n", {},
         "queues[0].resolution_seconds.high: expected a positive number of seconds, got -5"),
        ('[[agents]]\nusername = "anna"\ncapacity = 0\n', {}, "agents[0].capacity: must be 1..100, got 0"),
        ('[[agents]]\nusername = "anna"\ncapacity = 101\n', {}, "agents[0].capacity: must be 1..100, got 101"),
        ('[[agents]]\nusername = "anna"\ncapacity = true\n', {}, "agents[0].capacity: must be 1..100, got True"),
        ('[[agents]]\nusername = "anna"\n[[agents]]\nusername = "anna"\n', {},
         "agents[1].username: agent 'anna' is listed twice"),
        ('[[agents]]\nusername = "anna"\nshift = "early"\n', {}, "agents[0]: unknown key 'shift'"),
        ("resolution_categories = []\n", {}, "resolution_categories: name at least one category"),
        ('resolution_categories = ["Fixed it!"]\n', {},
         "resolution_categories: 'Fixed it!' is not a name of 1..40 letters, digits and _"),
        (QUEUE + 'channels = ["whatsapp"]\n', {}, "queues[0].channels: 'whatsapp' is not one of web, mobile, telegram"),
        (QUEUE + 'languages = ["German"]\n', {},
         "queues[0].languages: 'German' is not a two-letter language code like de"),
        ("", {"CASEDESK_REDIS_URL": "127.0.0.1:6379"}, "redis_url: must be a redis:// URL"),
        ("", {"CASEDESK_QUEUES": '[{"name": "general"}]'},
         "CASEDESK_QUEUES: queues can only be set in the settings file"),
        ("", {"CASEDESK_AGENTS": "anna"}, "CASEDESK_AGENTS: agents can only be set in the settings file"),
        ("sla_warning_ratio = 1.5\n", {}, "sla_warning_ratio: must be between 0 and 1, got 1.5"),
        ('survey_questions = ["nps", "comment"]\n', {}, "survey_questions: satisfaction is always asked; list it"),
        ('survey_questions = ["satisfaction", "csat"]\n', {},
         "survey_questions: unknown question 'csat'; questions are satisfaction, comment, nps, effort"),
        ('survey_questions = ["satisfaction", "nps", "nps"]\n', {}, "survey_questions: 'nps' is listed twice"),
        ('survey_questions = "satisfaction"\n', {},
         "survey_questions: expected a list of question ids, got 'satisfaction'"),
        ("", {"CASEDESK_SURVEY_QUESTIONS": "satisfaction,nps"},
         "CASEDESK_SURVEY_QUESTIONS: survey_questions can only be set in the settings file"),
        ("survey_link_days = 0\n", {}, "survey_link_days: must be more than 0 and at most 3650, got 0"),
        ("survey_link_days = 4000\n", {}, "survey_link_days: must be more than 0 and at most 3650, got 4000"),
        ("", {"CASEDESK_SURVEY_LINK_DAYS": "a fortnight"}, "survey_link_days: expected float"),
    ],
)
def test_bad_queue_and_agent_tables_name_the_key(tmp_path: Path, text: str, environ: dict[str, str],
                                                 message: str) -> None:
    file = tmp_path / "casedesk.toml"
    file.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(file, environ)


def test_survey_questions_in_the_order_asked_and_the_link_days(tmp_path: Path) -> None:
    assert load_settings(None, {}).survey_questions == ("satisfaction", "comment")
    file = tmp_path / "casedesk.toml"
    file.write_text('survey_questions = ["satisfaction", "effort", "nps"]\nsurvey_link_days = 0.5\n')
    settings = load_settings(file, {})
    assert (settings.survey_questions, settings.survey_link_days) == (("satisfaction", "effort", "nps"), 0.5)
    assert load_settings(file, {"CASEDESK_SURVEY_LINK_DAYS": "30"}).survey_link_days == 30


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ('mask_in_transcripts = ["card", "iban"]\n', {},
         "mask_in_transcripts: 'iban' is not one of email, phone, card"),
        ('mask_in_reports = "email"\n', {}, "mask_in_reports: expected a list of email, phone, card, got 'email'"),
        ('mask_in_reports = ["email", "email"]\n', {}, "mask_in_reports: 'email' is listed twice"),
        ("", {"CASEDESK_MASK_IN_TRANSCRIPTS": "card"},
         "CASEDESK_MASK_IN_TRANSCRIPTS: mask_in_transcripts can only be set in the settings file"),
        ('phone_region = "Germany"\n', {}, "phone_region: expected a region code like DE, US or AE (upper case)"),
        ("", {"CASEDESK_PHONE_REGION": "de"}, "phone_region: expected a region code"),
        ("retention_days = -1\n", {}, "retention_days: must be 0 (keep for ever) or a number of days up to 36500"),
        ("", {"CASEDESK_RETENTION_DAYS": "a year"}, "retention_days: expected int, got 'a year'"),
    ],
)
def test_bad_privacy_settings_name_the_key(tmp_path: Path, text: str, environ: dict[str, str], message: str) -> None:
    file = tmp_path / "casedesk.toml"
    file.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(file, environ)


def test_privacy_settings(tmp_path: Path) -> None:
    defaults = load_settings(None, {})
    assert defaults.mask_in_transcripts == ("card",) and defaults.mask_in_reports == ("email", "phone", "card")
    assert (defaults.phone_region, defaults.retention_days) == ("DE", 0)
    file = tmp_path / "casedesk.toml"
    file.write_text('mask_in_transcripts = ["card", "email"]\nmask_in_reports = []\nphone_region = "AE"\n')
    settings = load_settings(file, {"CASEDESK_RETENTION_DAYS": "365"})
    assert settings.mask_in_transcripts == ("card", "email") and settings.mask_in_reports == ()
    assert (settings.phone_region, settings.retention_days) == ("AE", 365)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('widget_origins = "https://shop.example.com"\n', "widget_origins: expected a list of origins"),
        ('widget_origins = ["https://shop.example.com/"]\n', "widget_origins[0]: expected an origin such as"),
        ('widget_origins = ["https://a.example", "shop.example.com"]\n', "widget_origins[1]: expected an origin"),
        ('widget_origins = ["ftp://shop.example.com"]\n', "widget_origins[0]: expected an origin"),
        ('widget_origins = ["https://shop.example.com:99999"]\n', "widget_origins[0]: expected an origin"),
        ('widget_origins = ["https://user@shop.example.com"]\n', "widget_origins[0]: expected an origin"),
        ('widget_origins = [8080]\n', "widget_origins[0]: expected an origin such as https://shop.example.com, got 80"),
        ('widget_origins = ["https://A.example", "https://a.example"]\n',
         "widget_origins[1]: 'https://a.example' is listed twice"),
    ],
)
def test_bad_widget_origins_name_the_entry(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "casedesk.toml"
    file.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(file, {})
    with pytest.raises(SettingsError, match="widget_origins can only be set in the settings file"):
        load_settings(None, {"CASEDESK_WIDGET_ORIGINS": "https://shop.example.com"})


def test_widget_origins(tmp_path: Path) -> None:
    assert load_settings(None, {}).widget_origins == ()
    file = tmp_path / "casedesk.toml"
    file.write_text('widget_origins = ["https://Shop.example.com", "http://127.0.0.1:8000"]\n')
    assert load_settings(file, {}).widget_origins == ("https://shop.example.com", "http://127.0.0.1:8000")


# Customers (issue 17): conversation tokens' time, identity tokens' audience and age.
@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("conversation_token_days = 0\n", {}, "conversation_token_days: must be more than 0 and at most 3650, got 0"),
        ("", {"CASEDESK_CONVERSATION_TOKEN_DAYS": "4000"}, "conversation_token_days: must be more than 0"),
        ('identity_audience = " "\n', {}, "identity_audience: must be 1 to 200 characters"),
        ("identity_max_age_seconds = 10\n", {}, "identity_max_age_seconds: must be 60 to 604800 (a week), got 10"),
        ("", {"CASEDESK_IDENTITY_MAX_AGE_SECONDS": "an hour"}, "identity_max_age_seconds: expected float"),
    ],
)
def test_bad_customer_token_settings_name_the_key(tmp_path: Path, text: str, environ: dict[str, str],
                                                  message: str) -> None:
    file = tmp_path / "casedesk.toml"
    file.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(file, environ)




# Issue 17, edges: the action endpoint's token and the public address.
@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ('action_token = "abcdefghijklmnopqrstu"\n', {}, "action_token is a secret; set CASEDESK_ACTION_TOKEN"),
        ("", {"CASEDESK_ACTION_TOKEN": "short"}, "action_token: must be at least 16 characters"),
        ("", {"CASEDESK_ACTION_TOKEN": "a token with spaces in it"}, "action_token: letters, digits, _ and - only"),
        ('public_url = "help.example.com"\n', {}, "public_url: expected an address such as https://help.example.com"),
        ('public_url = "https://help.example.com/"\n', {}, "public_url: expected an address"),
        ("", {"CASEDESK_PUBLIC_URL": "https://help.example.com?x=1"}, "public_url: expected an address"),
        ("", {"CASEDESK_PUBLIC_URL": "ftp://help.example.com"}, "public_url: expected an address"),
    ],
)
def test_bad_edge_settings_name_the_key(tmp_path: Path, text: str, environ: dict[str, str], message: str) -> None:
    file = tmp_path / "casedesk.toml"
    file.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(file, environ)


def test_customer_token_settings(tmp_path: Path) -> None:
    defaults = load_settings(None, {})
    assert (defaults.conversation_token_days, defaults.identity_audience, defaults.identity_max_age_seconds) == (
        30, "casedesk", 3600)
    file = tmp_path / "casedesk.toml"
    file.write_text('conversation_token_days = 7\nidentity_audience = "https://help.example.com"\n')
    settings = load_settings(file, {"CASEDESK_IDENTITY_MAX_AGE_SECONDS": "600"})
    assert (settings.conversation_token_days, settings.identity_audience, settings.identity_max_age_seconds) == (
        7, "https://help.example.com", 600)


# -- limits (handoff/limits/, docs/settings.md "Limits") ----------------------------------------------------


def test_limits_from_the_table_and_entry_by_entry_from_the_environment(tmp_path: Path) -> None:
    defaults = load_settings(None, {})
    assert defaults.limits == LimitTable() and defaults.trusted_proxies == ()
    file = tmp_path / "casedesk.toml"
    file.write_text('trusted_proxies = ["10.0.0.0/8", "::1"]\n[limits]\nstarts_per_address = "5/minute;50/hour"\n'
                    'sign_ins_per_address = ""\n')
    settings = load_settings(file, {"CASEDESK_LIMITS_MESSAGES_PER_CONVERSATION": "3/2 seconds"})
    assert settings.limits.starts_per_address == "5/minute;50/hour"
    assert settings.limits.messages_per_conversation == "3/2 seconds"
    assert settings.limits.handovers_per_contact == LimitTable().handovers_per_contact  # the rest: defaults
    assert "sign_ins_per_address" not in settings.limits.items()  # "": no limit
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1/128")
    environ = {"CASEDESK_LIMITS_STARTS_PER_ADDRESS": "1/second", "CASEDESK_TRUSTED_PROXIES": "127.0.0.1, 10.1.0.0/16"}
    overridden = load_settings(file, environ)
    assert overridden.limits.starts_per_address == "1/second"
    assert overridden.trusted_proxies == ("127.0.0.1/32", "10.1.0.0/16")


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ('[limits]\nstarts_per_address = "lots"\n', {}, "limits.starts_per_address: expected a rate such as"),
        ("[limits]\nstarts_per_address = 20\n", {}, "limits.starts_per_address: expected a rate such as"),
        ('[limits]\nstarts_per_address = "0/minute"\n', {}, "limits.starts_per_address: expected a rate such as"),
        ('[limits]\nstarts_per_hour = "1/hour"\n', {}, "limits.starts_per_hour: unknown limit; the limits are"),
        ('limits = "20/minute"\n', {}, "limits: expected a table of rates"),
        ("", {"CASEDESK_LIMITS_MESSAGES_PER_CONVERSATION": "many"},
         "limits.messages_per_conversation: expected a rate such as"),
        ("", {"CASEDESK_LIMITS_MESSAGES": "1/second"}, "limits.messages: unknown limit"),
        ('trusted_proxies = ["proxy.example.com"]\n', {}, "trusted_proxies[0]: expected an address or network"),
        ("", {"CASEDESK_TRUSTED_PROXIES": "10.0.0.0/33"}, "trusted_proxies[0]: expected an address or network"),
        ("sign_in_delay_seconds = -1\n", {}, "sign_in_delay_seconds: must be 0..60, got -1"),
    ],
)
def test_bad_limits_name_the_key(tmp_path: Path, text: str, environ: dict[str, str], message: str) -> None:
    file = tmp_path / "casedesk.toml"
    file.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(file, environ)


def test_public_url_is_built_from_host_and_port_unless_set(tmp_path: Path) -> None:
    assert load_settings(None, {}).public_url == "http://127.0.0.1:8080"
    assert load_settings(None, {"CASEDESK_PORT": "9000"}).public_url == "http://127.0.0.1:9000"
    file = tmp_path / "casedesk.toml"
    file.write_text('public_url = "https://help.example.com/support"\n')
    assert load_settings(file, {}).public_url == "https://help.example.com/support"
    assert load_settings(None, {"CASEDESK_ACTION_TOKEN": "a" * 16}).action_token == "a" * 16
    assert "aaaa" not in repr(load_settings(None, {"CASEDESK_ACTION_TOKEN": "a" * 16}))


# -- Rasa processes (issue 18, docs/operations.md "Rasa processes and trackers") ------------------------------


def test_rasa_processes_and_urls(tmp_path: Path) -> None:
    defaults = load_settings(None, {})
    assert (defaults.rasa_processes, defaults.rasa_urls, defaults.rasa_servers) == (1, (), ("http://127.0.0.1:5005",))
    file = tmp_path / "casedesk.toml"
    file.write_text('rasa_processes = 3\nredis_url = "redis://127.0.0.1:6379/0"\n'
                    'rasa_urls = ["http://rasa-a:5005/", "http://rasa-b:5005"]\n')
    settings = load_settings(file, {})
    assert settings.rasa_processes == 3
    assert settings.rasa_servers == settings.rasa_urls == ("http://rasa-a:5005", "http://rasa-b:5005")
    from_env = load_settings(None, {"CASEDESK_RASA_URLS": "http://a:5005, http://b:5005",
                                    "CASEDESK_REDIS_URL": "redis://127.0.0.1/0"})
    assert from_env.rasa_servers == ("http://a:5005", "http://b:5005")


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("rasa_processes = 0\n", {}, "rasa_processes: must be 1..16, got 0"),
        ("rasa_processes = 2\n", {}, "rasa_processes: several Rasa processes share conversations through Redis"),
        ("rasa_processes = 2\n", {"CASEDESK_REDIS_URL": "unix:///run/redis.sock"}, "rasa_processes: several Rasa"),
        ("", {"CASEDESK_RASA_URLS": "http://a:5005,http://b:5005"}, "rasa_urls: several Rasa processes share"),
        ('rasa_urls = ["rasa:5005"]\n', {}, "rasa_urls[0]: must be an http(s) URL, got 'rasa:5005'"),
        ("rasa_urls = 5\n", {}, "rasa_urls: expected a list of http(s) URLs, got 5"),
        ("", {"CASEDESK_RASA_URLS": "http://a:5005,http://a:5005/"}, "rasa_urls[1]: 'http://a:5005/' is listed twice"),
        # the logs' format and the metrics' token (docs/operations.md, "Metrics and logs")
        ('log_format = "xml"\n', {}, "log_format: must be one of text, json, got 'xml'"),
        ('metrics_token = "abcdefghijklmnopqrstu"\n', {}, "metrics_token is a secret; set CASEDESK_METRICS_TOKEN"),
        ("", {"CASEDESK_METRICS_TOKEN": "short"}, "metrics_token: at least 16 characters"),
        ("", {"CASEDESK_METRICS_TOKEN": "a token with spaces in it"}, "metrics_token: at least 16 characters"),
    ],
)
def test_bad_rasa_metrics_and_log_settings_name_the_key(tmp_path: Path, text: str, environ: dict[str, str],
                                                        message: str) -> None:
    file = tmp_path / "casedesk.toml"
    file.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(file, environ)


@pytest.mark.parametrize("value", ["0", "-1", "301"])
def test_bad_session_recheck_names_the_key(value: str) -> None:
    with pytest.raises(SettingsError, match="session_recheck_seconds: must be more than 0 and at most 300"):
        load_settings(None, {"CASEDESK_SESSION_RECHECK_SECONDS": value})


def test_session_recheck_from_the_environment() -> None:
    assert load_settings(None, {}).session_recheck_seconds == 5.0
    assert load_settings(None, {"CASEDESK_SESSION_RECHECK_SECONDS": "0.5"}).session_recheck_seconds == 0.5


def test_metrics_and_log_settings(tmp_path: Path) -> None:
    assert (load_settings(None, {}).log_format, load_settings(None, {}).metrics_token) == ("text", "")
    settings = load_settings(None, {"CASEDESK_LOG_FORMAT": "json", "CASEDESK_METRICS_TOKEN": "m" * 16})
    assert (settings.log_format, settings.metrics_token) == ("json", "m" * 16)
    assert "m" * 16 not in repr(settings)
