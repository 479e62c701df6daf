"""How reliably Rasa's NLU recognises the intents the bot trusts in every language, and only them.

The bot hands a conversation over as the customer's request when the NLU says `request_human`, and
acts on `goodbye`, `affirm` and `deny` (bot/actions/knowledge.py, ``EVERY_LANGUAGE``), in any
language. Two numbers say whether that is safe, both above the FallbackClassifier's threshold (below
it the message is a question for the knowledge base):

- taken: answerable questions the NLU takes for one of those intents instead, over the demo knowledge
  base's regression questions (training_data/regression-questions.yml; its ``escalate`` questions
  apart) and the articles' own example questions (training_data/articles/); each one listed;
- recall: held-out phrasings of each intent in English, German and Arabic
  (training_data/intent-check.yml), never in the training data, recognised as that intent.

Trains the model of ``--root`` (a folder with config.yml, bot/domain.yml and training_data/bot; the
project's own by default) when it is not trained yet, serves it with Rasa on loopback and asks
``POST /model/parse`` for each text.

    .venv/bin/python bench/intents.py [--root DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import rasa_runtime  # noqa: E402
from bot.actions.knowledge import EVERY_LANGUAGE  # noqa: E402
from knowledge_index.articles import load_articles  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def answerable_questions() -> list[tuple[str, str]]:
    """(source, question): the regression questions with an article, then every article's examples."""
    regression = yaml.safe_load((ROOT / "training_data" / "regression-questions.yml").read_text())["questions"]
    found = [("regression", q["question"]) for q in regression if q["answer"] != "escalate"]
    for article in load_articles(ROOT / "training_data" / "articles"):
        found += [(f"article {article.id}", q) for q in article.questions]
    return found


def held_out() -> list[tuple[str, str, str]]:
    """(intent, language, text) of training_data/intent-check.yml."""
    check = yaml.safe_load((ROOT / "training_data" / "intent-check.yml").read_text())
    return [(intent, language, text) for intent, by_language in check.items()
            for language, texts in by_language.items() for text in texts]


def measure(root: Path) -> dict[str, Any]:
    model, _ = rasa_runtime.ensure_model(root, root / "var" / "rasa-train.log")
    port, token = _free_port(), secrets.token_urlsafe(16)
    log = root / "var" / "rasa-intents.log"
    process = rasa_runtime.start_rasa(model, port, "http://127.0.0.1:9/webhook", log, token, root,
                                      action_token=secrets.token_urlsafe(16))
    url = f"http://127.0.0.1:{port}"
    try:
        rasa_runtime.wait_until_ready(process, url, log)
        while not rasa_runtime.loaded_model(url, token):  # the server answers before its model is loaded
            time.sleep(0.5)

        def intent(text: str) -> tuple[str, float]:
            found = cast(dict[str, Any], rasa_runtime.parse(url, token, text)["intent"])
            return str(found.get("name")), float(found.get("confidence") or 0.0)

        taken = []
        questions = answerable_questions()
        for source, question in questions:
            name, confidence = intent(question)
            if name in EVERY_LANGUAGE:
                taken.append({"source": source, "text": question, "intent": name, "confidence": round(confidence, 3)})
        recalled: Counter[tuple[str, str]] = Counter()
        asked: Counter[tuple[str, str]] = Counter()
        missed = []
        for expected, language, text in held_out():
            asked[expected, language] += 1
            name, confidence = intent(text)
            if name == expected:
                recalled[expected, language] += 1
            else:
                missed.append({"expected": expected, "language": language, "text": text, "got": name,
                               "confidence": round(confidence, 3)})
    finally:
        rasa_runtime.stop(process)
    return {
        "model": model.name, "questions": len(questions), "taken": taken,
        "recall": {f"{i} {lang}": f"{recalled[i, lang]}/{n}" for (i, lang), n in asked.items()},
        "recall_total": f"{sum(recalled.values())}/{sum(asked.values())}", "missed": missed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="the bot's files (default: this project)")
    parser.add_argument("--json", type=Path, help="write the full result here")
    args = parser.parse_args(argv)
    result = measure(args.root.resolve())
    print(f"model {result['model']}")
    print(f"answerable questions taken for {'/'.join(sorted(EVERY_LANGUAGE))}: "
          f"{len(result['taken'])} of {result['questions']}")
    for t in result["taken"]:
        print(f"  {t['intent']:<14} {t['confidence']:.3f}  {t['text']}  ({t['source']})")
    print(f"held-out recall: {result['recall_total']}")
    for key, value in result["recall"].items():
        print(f"  {key:<18} {value}")
    for m in result["missed"]:
        print(f"  missed {m['expected']} {m['language']}: {m['text']!r} -> {m['got']} {m['confidence']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
