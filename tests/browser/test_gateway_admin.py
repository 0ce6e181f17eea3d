"""The teacher's page in real Chromium: sign in, read spend and thumbnails, revoke, raise a budget.

The gateway runs in this process in front of the local server; three students generate through
it with the kit (one prompt is an HTML injection attempt, which must show as text), then the
page is driven like a teacher would, and screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

import jupyter_imagegen as ig
from jupyter_imagegen.server import LocalServer

pytest.importorskip("starlette")
from gateway_helpers import CHAT_BODY, UPSTREAM_KEY, auth, post_json

from jupyter_imagegen.gateway import Gateway, GatewayConfig, Ledger

pytestmark = pytest.mark.browser
ADMIN = "teacher-admin-token-0123456789"
INJECTION = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"


class Classroom:
    def __init__(self, folder: Path) -> None:
        self.upstream = LocalServer(api_key=UPSTREAM_KEY).start()
        self.ledger = Ledger(str(folder / "class.db"))
        self.tokens = {name: self.ledger.add_student(name, budget)
                       for name, budget in (("alice", 1.0), ("bob", 0.5), ("chen", 0.05),
                                            ("dora", 0.5))}
        config = GatewayConfig(upstream=self.upstream.base_url, upstream_key=UPSTREAM_KEY,
                               admin_token=ADMIN, class_budget=10.0,
                               models=frozenset({"offline/sketch", "offline/poster"}),
                               blocked_words=("gore", "weapon"))
        self.gateway = Gateway(config, self.ledger).start()
        self.root = self.gateway.base_url.removesuffix("/api/v1")

    def close(self) -> None:
        self.gateway.stop()
        self.ledger.close()
        self.upstream.stop()


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    room = Classroom(tmp_path_factory.mktemp("admin"))
    for name, prompt, model in (("alice", "a red lighthouse on blue waves", "offline/sketch"),
                                ("alice", INJECTION, "offline/poster"),
                                ("bob", "a green circle above yellow sand", "offline/sketch")):
        with ig.Client(base_url=room.gateway.base_url, api_key=room.tokens[name]) as client:
            client.generate(prompt, model=model)
    yield room
    room.close()


def test_the_page_needs_the_admin_token(classroom: Classroom) -> None:
    bare = httpx.get(f"{classroom.root}/admin")
    assert bare.status_code == 200 and "Admin token" in bare.text and "alice" not in bare.text
    student = httpx.get(f"{classroom.root}/admin", headers=auth(classroom.tokens["alice"]))
    assert "alice" not in student.text
    # (dora is no other test's: pytest may run this test before or after the browser's)
    control = httpx.post(f"{classroom.root}/admin/api/revoke", json={"name": "dora"},
                         headers={**auth(classroom.tokens["alice"]), "X-Gateway-Admin": "1"})
    assert control.status_code == 401
    forged = httpx.post(f"{classroom.root}/admin/api/revoke", json={"name": "dora"},
                        headers=auth(ADMIN))  # the admin's token but no page header: a forgery
    assert forged.status_code == 403
    wrong = httpx.post(f"{classroom.root}/admin/login", data={"token": "guess"})
    assert wrong.status_code == 401
    dora = classroom.ledger.student("dora")
    assert dora is not None and not dora.revoked


def test_the_rules_refuse_with_clear_messages(classroom: Classroom) -> None:
    url = f"{classroom.gateway.base_url}/chat/completions"
    screened = post_json(url, {**CHAT_BODY, "messages": [
        {"role": "user", "content": "a knight with a WEAPON"}]}, classroom.tokens["alice"])
    assert screened.status_code == 403
    assert "prompt screen" in screened.json()["error"]["message"]
    assert "'WEAPON'" in screened.json()["error"]["message"]
    barred = post_json(url, {**CHAT_BODY, "model": "offline/photo"}, classroom.tokens["alice"])
    assert barred.status_code == 403 and "not allowed" in barred.json()["error"]["message"]


def _sign_in(page: Page, root: str) -> None:
    page.goto(f"{root}/admin")
    page.get_by_label("Admin token").fill(ADMIN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#class-total")).to_be_visible()


def test_the_teacher_reads_spend_and_images_and_uses_the_controls(
        classroom: Classroom, page: Page, artifact: Any) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    _sign_in(page, classroom.root)
    alice = page.locator("tr[data-student='alice']")
    spent = classroom.ledger.student("alice")
    assert spent is not None
    expect(alice.locator("td.spent")).to_have_text(f"${spent.spent / 1e9:.4f}")
    expect(page.locator("#class-total")).to_contain_text("budget $10.00")
    figures = page.locator("figure")
    expect(figures).to_have_count(3)
    sizes = page.evaluate("[...document.querySelectorAll('figure img')].map("
                          "i => [i.naturalWidth, i.naturalHeight])")
    assert all(0 < w <= 160 and 0 < h <= 160 for w, h in sizes), sizes
    expect(page.locator("figure .prompt").filter(has_text="<script>")).to_have_count(1)
    assert page.title() == "Class gateway"  # the injected markup never ran
    expect(page.locator(".rules")).to_contain_text("offline/poster, offline/sketch")
    expect(page.locator(".rules")).to_contain_text("weapon")
    assert UPSTREAM_KEY not in page.content() and classroom.tokens["alice"] not in page.content()
    artifact(page, "signed-in")

    page.locator("tr[data-student='bob'] button[data-revoke]").click()
    expect(page.locator("tr[data-student='bob']")).to_have_class("revoked")
    assert dialogs == ["Revoke bob's token?"]
    answer = post_json(f"{classroom.gateway.base_url}/chat/completions", CHAT_BODY,
                       classroom.tokens["bob"])
    assert answer.status_code == 401

    chen = page.locator("tr[data-student='chen']")
    chen.locator("input.budget").fill("2.5")
    chen.get_by_role("button", name="Set budget").click()
    expect(page.locator("tr[data-student='chen'] td.budget")).to_have_text("$2.50")
    after = classroom.ledger.student("chen")
    assert after is not None and after.budget == 2_500_000_000
    artifact(page, "after-controls")
    if os.environ.get("JUPYTER_IMAGEGEN_UPDATE_DOCS"):  # `make docs-images`: docs/gateway.md's
        page.screenshot(path=str(Path(__file__).resolve().parents[2] / "docs" / "images"
                                 / "gateway-admin.png"))
