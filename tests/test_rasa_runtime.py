"""The Rasa model is retrained only when its inputs change."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bot import rasa_runtime

ROOT = Path(__file__).resolve().parent.parent


def copy_inputs(target: Path) -> Path:
    for name in rasa_runtime.INPUTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target / name)
    return target


def test_model_name_follows_the_inputs_only(tmp_path: Path) -> None:
    root = copy_inputs(tmp_path)
    first = rasa_runtime.model_path(root)
    (root / "training_data" / "articles").mkdir(parents=True)
    (root / "training_data" / "articles" / "new.md").write_text("articles are not Rasa's input")
    assert rasa_runtime.model_path(root) == first
    with (root / "training_data" / "bot" / "nlu.yml").open("a") as nlu:
        nlu.write("    - hi hi\n")
    assert rasa_runtime.model_path(root) != first


def test_an_existing_model_is_reused_without_training(tmp_path: Path) -> None:
    root = copy_inputs(tmp_path)
    model = rasa_runtime.model_path(root)
    model.parent.mkdir()
    model.write_bytes(b"a trained model")
    assert rasa_runtime.ensure_model(root) == (model, False)


CHECK_ANSWERS = """
import bot.rasa_server
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

bot.rasa_server._checked_once()
action = RemoteAction.__new__(RemoteAction)
ours = {"events": [{"event": "slot", "name": "last_article", "value": None}],
        "responses": [{"custom": {"text": "hello", "data": {"kind": "small_talk"}}}]}
print("accepted:", action._validate_action_result(ours))
for wrong in ({"events": "not a list"}, {"events": [{"event": "slot"}], "responses": []}):
    try:
        action._validate_action_result(wrong)
    except ValidationError as error:
        print("refused:", error.message)
"""


def test_rasa_still_checks_what_the_action_server_answers() -> None:
    """Rasa runs with the check of the action server's answers built once (bot/rasa_server.py): it accepts
    what our actions answer and refuses what breaks Rasa's schema, with Rasa's own message."""
    done = subprocess.run([str(rasa_runtime.RASA_PYTHON), "-c", CHECK_ANSWERS], cwd=ROOT, env=rasa_runtime.rasa_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith(("accepted:", "refused:"))]
    assert lines[0] == "accepted: True"
    assert len(lines) == 3 and all(line.startswith("refused:") for line in lines[1:]), done.stdout
    assert "'not a list' is not of type 'array'. Failed to validate Action server response" in lines[1]


def test_rasa_runs_its_numeric_libraries_on_one_thread() -> None:
    env = rasa_runtime.rasa_env()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS",
                 "TF_INTER_OP_PARALLELISM_THREADS"):
        assert env[name] == "1", name
