# The entry points. CI runs .ci/run, which calls `make check` and then `make test`.
.PHONY: setup run test check lock

setup:
	scripts/setup

run: setup
	.venv/bin/casedesk run

test: setup
	scripts/test

check: setup
	.venv/bin/ruff check handoff knowledge_index bot connectors tests bench docs/examples
	.venv/bin/mypy
	.venv/bin/lint-imports

# Resolves requirements/*.in and pyproject.toml into the hashed lock files (README, "Changing a dependency").
lock:
	scripts/lock
