"""The Rasa model is retrained only when its inputs change."""

from __future__ import annotations

import shutil
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
