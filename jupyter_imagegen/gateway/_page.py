"""The teacher's page as HTML: spend per student, the class total, the newest images, the rules.

Everything that came from a student or the upstream (names, prompts, model ids) is escaped with
:func:`html.escape` here, on the server, so a prompt is shown as text and never runs; thumbnails
are small images inlined as data URLs. The page's script only sends the two controls' requests
(revoke, set a budget) with a header a cross-site form cannot send, then reloads.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["admin_page", "login_page"]

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
.total{font-size:15px;margin:4px 0 16px} .muted{color:#667}
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px #0002}
th,td{padding:6px 10px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:middle}
td.money{text-align:right;font-variant-numeric:tabular-nums}
.bar{width:120px;height:8px;background:#e3e6ea;border-radius:4px;overflow:hidden}
.bar i{display:block;height:100%;background:#3a7bd5} .bar i.over{background:#d9534f}
.revoked td{color:#999} .revoked td.name::after{content:" (revoked)"}
form.budget{display:flex;gap:4px;margin:0} input.budget{width:70px} button{cursor:pointer}
.grid{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;width:170px;background:#fff;padding:5px;box-shadow:0 1px 2px #0002}
figure img{width:160px;height:160px;object-fit:contain;background:#eee;display:block}
figcaption{font-size:12px;overflow-wrap:anywhere} .rules li{margin:2px 0}
"""

_SCRIPT = """
async function act(path, body) {
  const res = await fetch(path, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Gateway-Admin": "1"},
    body: JSON.stringify(body || {})});
  const text = await res.text();
  if (!res.ok) { document.getElementById("status").textContent = text; return; }
  location.reload();
}
document.querySelectorAll("button[data-revoke]").forEach((b) => b.addEventListener("click", () => {
  if (confirm("Revoke " + b.dataset.revoke + "'s token?")) act("admin/api/revoke", {name: b.dataset.revoke});
}));
document.querySelectorAll("form.budget").forEach((f) => f.addEventListener("submit", (e) => {
  e.preventDefault();
  act("admin/api/budget", {name: f.dataset.name, budget: parseFloat(f.elements.budget.value)});
}));
"""


def _money(value: float | None, digits: int = 4) -> str:
    return "none" if value is None else f"${value:.{digits}f}"


def _row(student: Mapping[str, Any]) -> str:
    name = escape(str(student["name"]))
    budget = float(student["budget"])
    used = float(student["spent"]) + float(student["reserved"])
    share = min(100.0, 100.0 * used / budget) if budget > 0 else 100.0
    over = " class='over'" if share >= 90 else ""
    revoked = bool(student["revoked"])
    controls = "" if revoked else (
        f"<form class='budget' data-name='{name}'><input class='budget' name='budget' "
        f"type='number' min='0' step='0.01' value='{budget:.2f}' aria-label='budget of {name}'>"
        f"<button type='submit'>Set budget</button></form>")
    revoke = "" if revoked else f"<button data-revoke='{name}'>Revoke</button>"
    return (f"<tr class='{'revoked' if revoked else 'student'}' data-student='{name}'>"
            f"<td class='name'>{name}</td><td class='money spent'>{_money(student['spent'])}</td>"
            f"<td class='money'>{_money(student['reserved'])}</td>"
            f"<td class='money budget'>{_money(budget, 2)}</td>"
            f"<td class='money'>{_money(student['left'])}</td><td>{int(student['calls'])}</td>"
            f"<td><div class='bar'><i{over} style='width:{share:.0f}%'></i></div></td>"
            f"<td>{controls}</td><td>{revoke}</td></tr>")


def _figure(image: Mapping[str, Any]) -> str:
    src = f"data:{image['mime']};base64,{base64.b64encode(image['thumb']).decode()}"
    when = dt.datetime.fromtimestamp(float(image["created"])).strftime("%H:%M:%S")
    return (f"<figure><img src='{src}' alt=''><figcaption><b>{escape(image['student'])}</b> "
            f"<span class='muted'>{when} · {escape(image['model'])} · "
            f"{_money(image['cost'])}</span><br><span class='prompt'>"
            f"{escape(image['prompt'][:300])}</span></figcaption></figure>")


def _rules(rules: Mapping[str, Any]) -> str:
    models = rules.get("models")
    words = rules.get("blocked_words") or ()
    items = [
        "Models: " + (escape(", ".join(sorted(models))) if models else "every model the upstream "
                      "lists (no allow-list)"),
        "Prompt screen: " + (f"{len(words)} word(s) refused: " + escape(", ".join(words))
                             if words else "off"),
        f"Upstream: {escape(str(rules.get('upstream', '')))}",
    ]
    return "<ul class='rules'>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def admin_page(report: Mapping[str, Any], images: Sequence[Mapping[str, Any]],
               rules: Mapping[str, Any]) -> str:
    """The whole page for a usage ``report`` (``Ledger.usage()``), thumbnails and class rules."""
    klass = report["class"]
    rows = "".join(_row(s) for s in report["students"]) or \
        "<tr><td colspan='9' class='muted'>No students yet: jupyter-imagegen gateway add</td></tr>"
    gallery = "".join(_figure(i) for i in images) or "<p class='muted'>No images yet.</p>"
    return f"""<!doctype html><html lang='en'><head><meta charset='utf-8'>
<title>Class gateway</title><style>{_STYLE}</style></head><body>
<h1>Class gateway</h1>
<div class='total' id='class-total'>Class total: <b>{_money(klass['spent'])}</b> spent,
{_money(klass['reserved'])} running, budget {_money(klass['budget'], 2)},
{int(klass['calls'])} calls</div>
<div id='status' class='muted' role='status'></div>
<table><thead><tr><th>Student</th><th>Spent</th><th>Running</th><th>Budget</th><th>Left</th>
<th>Calls</th><th>Used</th><th></th><th></th></tr></thead><tbody>{rows}</tbody></table>
<h2>Rules</h2>{_rules(rules)}
<h2>Latest images</h2><div class='grid'>{gallery}</div>
<script>{_SCRIPT}</script></body></html>"""


def login_page(message: str = "") -> str:
    """The admin token form (the token goes in a POST body, never in a URL or a log)."""
    note = f"<p class='muted' id='login-error'>{escape(message)}</p>" if message else ""
    return f"""<!doctype html><html lang='en'><head><meta charset='utf-8'>
<title>Class gateway: sign in</title><style>{_STYLE}</style></head><body>
<h1>Class gateway</h1>{note}
<form method='post' action='admin/login'><label>Admin token
<input type='password' name='token' autocomplete='current-password' autofocus></label>
<button type='submit'>Sign in</button></form></body></html>"""
