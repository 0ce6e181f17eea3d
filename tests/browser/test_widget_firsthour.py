"""What a stranger trips on in the widget's page (issue 22), checked in headless Chromium.

The page-only parts use the fake-model harness of ``test_widget_js`` (no Jupyter, fast): the
picker's keyboard, Clear history, an ``n`` above the model's limit, zoom inside a shadow root (as
marimo renders widgets) and a static export. Contrast is measured in real JupyterLab themes.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import JupyterServer, open_notebook
from .test_widget_js import JS_DIR, widget_page  # noqa: F401  (the harness fixture)

pytestmark = pytest.mark.browser

MODELS = [
    {"id": "offline/sketch", "name": "Sketch", "price": 0.039, "accepts_images": False,
     "aspect_ratios": ["1:1"], "sizes": [], "seed": True, "max_n": 1},
    {"id": "offline/poster", "name": "Poster", "price": 0.04, "accepts_images": False,
     "aspect_ratios": ["1:1"], "sizes": [], "seed": False, "max_n": 1},
    {"id": "offline/editor", "name": "Editor", "price": 0.039, "accepts_images": True,
     "aspect_ratios": ["1:1"], "sizes": [], "seed": True, "max_n": 1},
    {"id": "offline/quartet", "name": "Quartet", "price": 0.039, "accepts_images": False,
     "aspect_ratios": ["1:1"], "sizes": [], "seed": True, "max_n": 4},
]


def _models(page: Page, current: str) -> None:
    page.evaluate("([models, model]) => window.model.update({models, model})", [MODELS, current])


def test_picker_keeps_what_was_meant(widget_page: Page, artifact: Any) -> None:  # noqa: F811
    page = widget_page
    _models(page, "offline/editor")
    model = "() => window.model.get('model')"
    search = page.locator("input.ig-model-search")
    # Opening the list highlights (and marks) the current model, not the first row ...
    search.click()
    selected = page.locator(".ig-model-option[aria-selected='true']")
    expect(selected).to_have_count(1)
    expect(selected).to_have_attribute("data-id", "offline/editor")
    current = page.locator(".ig-model-option[aria-current='true']")
    expect(current).to_have_attribute("data-id", "offline/editor")
    artifact(page, "picker-open")
    # ... so Enter right away keeps it.
    search.press("Enter")
    assert page.evaluate(model) == "offline/editor"
    # An exact id typed and Tab: that model, not the old one back.
    search.click()
    search.fill("offline/poster")
    expect(selected).to_have_attribute("data-id", "offline/poster")
    search.press("Tab")
    assert page.evaluate(model) == "offline/poster"
    expect(search).to_have_value("offline/poster")
    # An exact name counts too; part of an id does not (the box shows the model again).
    search.click()
    search.fill("quartet")
    search.press("Tab")
    assert page.evaluate(model) == "offline/quartet"
    search.click()
    search.fill("offline/sk")
    search.press("Tab")
    assert page.evaluate(model) == "offline/quartet"
    expect(search).to_have_value("offline/quartet")
    # Escape after typing a full id leaves the model as it was.
    search.click()
    search.fill("offline/sketch")
    search.press("Escape")
    assert page.evaluate(model) == "offline/quartet"


def test_clear_history_asks_first(widget_page: Page, artifact: Any) -> None:  # noqa: F811
    page = widget_page
    page.evaluate("() => window.result('r1', 'a red square', 'rgb(255,0,0)')")
    page.evaluate("() => window.result('r2', 'a blue square', 'rgb(0,0,255)')")
    sent = "() => window.model.sent.filter((m) => m.type === 'clear').length"
    page.locator("button.ig-clear").click()
    confirm = page.locator(".ig-clear-confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("Remove all 2 results from the gallery?")
    expect(page.locator("button.ig-clear")).to_be_hidden()
    artifact(page, "clear-confirm")
    assert page.evaluate(sent) == 0  # nothing cleared yet
    page.locator("button.ig-clear-no").click()
    expect(confirm).to_be_hidden()
    expect(page.locator(".ig-card")).to_have_count(2)
    assert page.evaluate(sent) == 0
    page.locator("button.ig-clear").click()
    page.locator("button.ig-clear-yes").click()
    assert page.evaluate(sent) == 1


def test_n_above_the_limit_blocks_generate_and_says_why(widget_page: Page) -> None:  # noqa: F811
    page = widget_page
    _models(page, "offline/quartet")
    page.locator("textarea.ig-prompt").fill("four stars")
    count = page.locator("input.ig-n")
    expect(count).to_be_visible()
    count.fill("9")
    count.dispatch_event("change")
    expect(count).to_have_value("9")  # not cut to 4 behind the user's back
    generate, hint = page.locator("button.ig-generate"), page.locator(".ig-hint-line")
    expect(generate).to_be_disabled()
    expect(hint).to_have_text("Quartet makes at most 4 images per request: lower the number of images.")
    count.fill("3")
    count.dispatch_event("change")
    expect(generate).to_be_enabled()
    generate.click()
    assert page.evaluate("() => window.model.sent.at(-1).n") == 3


_SHADOW = """async (css) => {
  // As marimo renders an anywidget: its element and its styles inside a shadow root.
  const outer = document.getElementById("host");
  outer.replaceChildren();
  const shadow = outer.attachShadow ? (outer.shadowRoot || outer.attachShadow({ mode: "open" })) : null;
  const style = document.createElement("style"); style.textContent = css;
  const host = document.createElement("div");
  shadow.replaceChildren(style, host);
  window.cleanup?.();
  const model = window.model;
  window.cleanup = window.widget.render({ model, el: host });
  return true;
}"""


def test_zoom_is_styled_inside_a_shadow_root(widget_page: Page, artifact: Any) -> None:  # noqa: F811
    page = widget_page
    css = (JS_DIR / "widget.css").read_text(encoding="utf-8")
    assert page.evaluate(_SHADOW, css) is True
    page.evaluate("() => window.result('r1', 'a red square', 'rgb(255,0,0)')")
    page.locator("#host img.ig-image").click()  # Playwright locators pierce open shadow roots
    zoom = page.locator(".ig-zoom")
    expect(zoom).to_be_visible()
    info = zoom.evaluate("""z => { const s = getComputedStyle(z);
      return {inShadow: z.getRootNode() instanceof ShadowRoot, position: s.position,
              background: s.backgroundColor, z: s.zIndex,
              w: z.getBoundingClientRect().width, h: z.getBoundingClientRect().height}; }""")
    assert info["inShadow"] and info["position"] == "fixed" and info["z"] == "10000", info
    assert info["background"] == "rgba(0, 0, 0, 0.6)", info
    viewport = page.viewport_size or {"width": 0, "height": 0}
    assert (info["w"], info["h"]) == (viewport["width"], viewport["height"])  # covers the page
    artifact(page, "zoom-shadow")
    page.keyboard.press("Escape")
    expect(zoom).to_be_hidden()


def test_a_static_export_says_it_is_static(widget_page: Page, artifact: Any) -> None:  # noqa: F811
    page = widget_page
    page.evaluate("""() => { window.__MARIMO_STATIC__ = {}; window.cleanup();
      const el = document.getElementById("host");
      window.cleanup = window.widget.render({ model: window.model, el }); }""")
    page.evaluate("() => window.result('r1', 'a red square', 'rgb(255,0,0)')")
    banner = page.locator(".ig-offline").last
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("static export")
    expect(page.locator(".ig-root").last).to_have_attribute("data-live", "false")
    expect(page.locator(".ig-root").last.locator("button.ig-generate")).to_be_hidden()
    expect(page.locator(".ig-root").last.locator(".ig-latest img.ig-image")).to_have_count(1)
    artifact(page, "static")


# -- contrast in the real themes -------------------------------------------------------------------

# The function finds the highlighted row itself: the list is redrawn when prices arrive, and a row
# found by one call and measured by a later one may by then be detached (its computed colours "").
_CONTRAST = """root => {
  const el = root.querySelector(".ig-model-option[aria-selected='true']");
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92
    : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  let bg = "rgba(0, 0, 0, 0)", node = el;
  while (node && /rgba\\(0, 0, 0, 0\\)|transparent/.test(bg)) {
    bg = getComputedStyle(node).backgroundColor; node = node.parentElement; }
  const ratio = (fg) => { const [a, b] = [lum(rgb(fg)), lum(rgb(bg))].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05); };
  return Array.from(el.querySelectorAll("span")).map((s) => ratio(getComputedStyle(s).color)); }"""


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_highlighted_model_is_readable_in_both_themes(
    page: Page, jupyter: JupyterServer, theme: str, artifact: Any
) -> None:
    name = jupyter.write_notebook(["from jupyter_imagegen import ImageGenWidget\n"
                                   "w = ImageGenWidget(model='offline/sketch')\nw"])
    nb = open_notebook(page, jupyter.lab_url(name), name)
    page.evaluate("t => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme)
    page.wait_for_function("t => document.body.dataset.jpThemeName === t", arg=theme)
    nb.run_all()
    widget = nb.wait_for_widget()
    widget.locator("input.ig-model-search").click()
    row = widget.locator(".ig-model-option[aria-selected='true']")
    expect(row).to_have_attribute("data-id", "offline/sketch")
    expect(row.locator(".ig-option-price")).to_have_text(re.compile(r"\S"))
    ratios = widget.evaluate(_CONTRAST)
    assert len(ratios) == 3 and min(ratios) >= 4.5, ratios  # name, id and price
    artifact(page, theme.split()[-1].lower())
