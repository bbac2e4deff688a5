"""Sessions through the real server: a conversation stays on its LLM unless switching pays."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import openai
import pytest

from irtrouter.routing import load_router
from irtrouter.serve import ServeSettings, create_app, parse_config
from irtrouter.serve.config import SessionsConfig
from irtrouter.serve.routing import SessionNote
from irtrouter.serve.sessions import Sessions
from tests.serve.conftest import CLIENT_KEY, environ, provider_model, serve_config
from tests.serve.fake_upstream import FakeProvider, ServerThread

MATH = "solve the integral equation algebra derivative"
CODE = "python function list loop class return compile bug"


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sessions") / "d.sqlite"


@pytest.fixture(scope="module")
def sticky(
    router_dir: Path, provider_server: tuple[FakeProvider, ServerThread], db_path: Path
) -> Iterator[ServerThread]:
    # A margin no score gain can beat (scores lie in [-1, 1]): a session stays unless its LLM is not allowed.
    raw = serve_config(provider_server[1].url, db_path, sessions={"switch_margin": 10.0})
    app = create_app(ServeSettings(config=parse_config(raw), router=load_router(router_dir), environ=environ()))
    with ServerThread(app) as server:
        yield server


@pytest.fixture
def sclient(sticky: ServerThread, provider: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{sticky.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30)


def chat(client: openai.OpenAI, messages: list[dict[str, str]], session: str | None = None, **extra: object) -> dict:
    headers = {"x-irtrouter-session": session} if session else None
    done = client.chat.completions.create(
        model="irtrouter/cheap", messages=messages, extra_headers=headers, extra_body=extra or None
    )
    return {"model": done.model, **done.model_extra["irtrouter"]}


def test_a_header_session_stays_on_its_llm_and_says_why(sclient: openai.OpenAI, db_path: Path) -> None:
    first = chat(sclient, [{"role": "user", "content": MATH}], "conv-1")
    llm = first["model"]
    assert first["session"]["id"] == "conv-1" and first["session"]["previous_llm"] is None
    for text in (CODE, "which empire won the battle of the ancient dynasty", MATH):
        later = chat(sclient, [{"role": "user", "content": text}], "conv-1")
        assert later["model"] == llm and later["llm_id"] == llm
        assert later["session"]["stayed"] is True and later["session"]["previous_llm"] == llm
        if later["session"]["gain"] is not None:  # the rule chose another LLM: the session kept it
            assert later["reason"].startswith(f"stayed on the session's LLM {llm}")
            assert later["session"]["gain"] <= later["session"]["switch_cost"]
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT session_id, answered_by FROM decisions WHERE session_id = 'conv-1'").fetchall()
    assert len(rows) == 4 and {r[1] for r in rows} == {llm}


def test_a_session_llm_that_is_not_allowed_is_left(sclient: openai.OpenAI) -> None:
    first = chat(sclient, [{"role": "user", "content": CODE}], "conv-2")
    other = next(m for m in ("math-small", "code-small", "weak-small") if m != first["model"])
    moved = chat(sclient, [{"role": "user", "content": CODE}], "conv-2", allowed_llms=[other])
    assert moved["model"] == other and moved["session"]["stayed"] is False
    assert "not allowed" in moved["session"]["reason"]
    back = chat(sclient, [{"role": "user", "content": CODE}], "conv-2")  # the session now follows `other`
    assert back["model"] == other


def test_after_a_fallback_the_session_follows_the_llm_that_answered(
    sclient: openai.OpenAI, provider: FakeProvider
) -> None:
    first = chat(sclient, [{"role": "user", "content": MATH}], "conv-3")
    provider.modes[provider_model(first["model"])] = "500"
    failed_over = chat(sclient, [{"role": "user", "content": MATH}], "conv-3")
    assert failed_over["model"] != first["model"]
    provider.modes.clear()
    again = chat(sclient, [{"role": "user", "content": MATH}], "conv-3")
    assert again["model"] == failed_over["model"]


def test_without_a_header_the_first_turns_key_the_session(sclient: openai.OpenAI) -> None:
    opening = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": CODE}]
    first = chat(sclient, opening)
    assert first["session"]["key_from"] == "first_turns" and first["session"]["id"].startswith("h-")
    assert "first turn" in first["session"]["reason"]
    turn2 = [*opening, {"role": "assistant", "content": "ok"}, {"role": "user", "content": MATH}]
    second = chat(sclient, turn2)
    assert second["session"]["id"] == first["session"]["id"]
    assert second["model"] == first["model"] and second["session"]["stayed"] is True


def test_bad_session_header_is_a_400(sclient: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        chat(sclient, [{"role": "user", "content": MATH}], "x" * 201)


def test_the_table_is_bounded_and_expires() -> None:
    now = [0.0]
    s = Sessions(SessionsConfig(max_sessions=2, ttl_s=10), {}, clock=lambda: now[0])
    for key in ("a", "b", "c"):
        s.remember(SimpleNamespace(session=SessionNote(key, "header", None, False, "new")), "m")  # type: ignore[arg-type]
    assert len(s) == 2 and s._previous("a") is None and s._previous("c") == "m"
    now[0] = 11.0
    assert s._previous("c") is None
