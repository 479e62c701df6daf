"""Rasa's command line (``rasa run``, ``rasa train``), with one fix to the cost of a turn; run by Rasa's own
Python 3.10 (bot/rasa_runtime.py: ``python bot/rasa_server.py run ...``), never imported by the app.

Rasa 3.6 checks every action server's answer against its JSON schema with ``jsonschema.validate``, which
checks the schema itself first, every time: about 10 ms of CPU per action call, a quarter of what Rasa
spent on a turn (docs/benchmarks.md, "A bot turn's cost"). The same check is made here with a validator
built (and its schema checked) once, raising the same ``ValidationError`` as ``validate`` does.
"""

from __future__ import annotations

import sys
from typing import Any


def _checked_once() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    kind = validator_for(schema)
    kind.check_schema(schema)
    validator = kind(schema)

    def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        error: ValidationError | None = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (". Failed to validate Action server response from API, make sure your response from "
                          f"the Action endpoint is valid. For more information about the format visit "
                          f"{DOCS_BASE_URL}/custom-actions")
        raise error

    RemoteAction._validate_action_result = validate_action_result


if __name__ == "__main__":
    del sys.path[0]  # this file's folder (bot/): its modules are not Rasa's to import
    from rasa.__main__ import main

    _checked_once()
    main()
