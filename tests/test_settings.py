from __future__ import annotations

import re
from pathlib import Path

import pytest

from handoff.settings import SettingsError, load_settings


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
        ("", {"CASEDESK_NO_SUCH": "1"}, "CASEDESK_NO_SUCH: unknown setting"),
        ("", {"CASEDESK_DATABASE_URL": "mysql://x"}, "database_url: must start with sqlite+aiosqlite://"),
        ("port = [\n", {}, "casedesk.toml"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, text: str, environ: dict[str, str], message: str) -> None:
    file = tmp_path / "casedesk.toml"
    file.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(file, environ)


def test_a_named_settings_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(None, {"CASEDESK_SETTINGS": str(tmp_path / "missing.toml")})
