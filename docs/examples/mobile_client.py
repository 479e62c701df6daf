"""A customer's app talking to casedesk over REST (docs/mobile.md), with Python's standard library only.

    python docs/examples/mobile_client.py http://127.0.0.1:8080

It starts a conversation, asks a question, long-polls for the answer, asks for a person, waits for
the agent's reply and, once the agent has resolved the conversation, answers the survey.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any


class CaseDesk:
    """One conversation. Keep `token` (the only key to it) in the app's secure storage to come back later."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = ""
        self.conversation: dict[str, Any] = {}
        self.last_seq = 0  # the last message shown: ask for what comes after it

    def call(self, method: str, path: str, body: Any = None, timeout: float = 40) -> Any:
        request = urllib.request.Request(self.base_url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:  # every error has the same shape: {"error": {"code", "message"}}
            error = json.load(exc)["error"]
            raise RuntimeError(f"{method} {path}: {exc.code} {error['code']}: {error['message']}") from None

    def start(self, name: str) -> None:
        started = self.call("POST", "/api/conversations", {"name": name, "locale": "en"})
        self.token, self.conversation = started["token"], started["conversation"]

    def send(self, text: str, payload: str | None = None, tries: int = 3) -> None:
        """Send with an id of its own; sent again with it when no answer came, it is stored once."""
        body = {"text": text, "client_id": str(uuid.uuid4()), **({"payload": payload} if payload else {})}
        for attempt in range(1, tries + 1):
            try:
                self.call("POST", f"/api/conversations/{self.conversation['id']}/messages", body)
                return
            except (urllib.error.URLError, TimeoutError):  # no answer: stored or not, send it again
                if attempt == tries:
                    raise
                time.sleep(attempt)

    def wait_for(self, wanted: Any, seconds: float = 120) -> dict[str, Any]:
        """Long-poll until a message for which ``wanted(message)`` is true; show every message on the way."""
        for _ in range(int(seconds // 25) + 1):
            found = self.call("GET", f"/api/conversations/{self.conversation['id']}/messages"
                                     f"?after_seq={self.last_seq}&wait=25")
            self.conversation = found["conversation"]
            for message in found["messages"]:
                self.last_seq = message["seq"]
                print(f"{message['sender']}: {message['text']}", flush=True)
                if wanted(message):
                    return message  # type: ignore[no-any-return]
        raise TimeoutError("nothing came")

    def answer_survey(self, rating: int, comment: str) -> dict[str, Any]:
        answered = self.call("POST", f"/api/conversations/{self.conversation['id']}/survey",
                             {"rating": rating, "comment": comment})
        return answered["survey"]  # type: ignore[no-any-return]


def main(base_url: str) -> None:
    desk = CaseDesk(base_url)
    desk.start("Dana")
    print(f"started case {desk.conversation['case_number']}", flush=True)

    desk.send("How do I return a bike?")
    answer = desk.wait_for(lambda m: m["sender"] == "bot")
    for button in answer["data"].get("buttons", []):  # e.g. Yes / No: send one as {"text", "payload"}
        print(f"  [{button['title']}] -> {button['payload']}")

    if desk.conversation["status"] == "bot":  # the bot answered; the customer wants a person all the same
        desk.send("I want to talk to a person")
        desk.wait_for(lambda m: m["data"].get("kind") == "handoff")
    print(f"waiting for an agent: place {desk.conversation['queue_position']} in the queue", flush=True)

    desk.wait_for(lambda m: m["sender"] == "agent")
    desk.send("Thank you, that helps.")
    desk.wait_for(lambda m: m["data"].get("kind") == "survey")  # the agent resolved the conversation
    survey = desk.answer_survey(5, "Quick and friendly")
    print(f"survey answered: {survey['rating']} ({survey['answered_via']})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080")
