"""jupyter_imagegen in marimo: results, a comparison grid and the widget.

Run it with `marimo edit notebooks/marimo_demo.py` (or export it:
`marimo export html notebooks/marimo_demo.py -o demo.html`). The cells use real model ids: with
OPENROUTER_API_KEY set they run on OpenRouter; without, the kit starts its local offline server
itself, which answers for the same ids (procedural images, no key, no cost, no network).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo

    import jupyter_imagegen as ig

    return ig, mo


@app.cell
def _(mo):
    mo.md("""
    # jupyter_imagegen in marimo

    A result is the last expression of a cell: marimo shows it through its own display
    protocol (`_mime_`), as the same figure Jupyter shows.
    """)
    return


@app.cell
def _(ig):
    client = ig.default_client()
    result = ig.generate("a red lighthouse on blue waves at dusk",
                         model="google/gemini-2.5-flash-image", seed=7, aspect_ratio="16:9")
    result
    return (client,)


@app.cell
def _(client):
    batch = client.generate_many(["a green fox", "a yellow boat"],
                                 model="black-forest-labs/flux.2-klein-4b", progress=False)
    batch
    return


@app.cell
def _(ig):
    ig.compare("a blue boat at dusk",
               models=["google/gemini-2.5-flash-image", "recraft/recraft-v4"], progress=False)
    return


@app.cell
def _(ig):
    # The widget object in a cell of its own. A cell that reads `widget` (the UI element) is
    # re-run by marimo whenever the widget's state changes, which is every keystroke in its
    # prompt; the cell below reads `gen`, so typing in the widget never runs it again.
    gen = ig.ImageGenWidget(model="google/gemini-2.5-flash-image")
    return (gen,)


@app.cell
def _(gen, mo):
    widget = mo.ui.anywidget(gen)
    widget
    return


@app.cell
def _(gen, mo):
    done = gen.generate("a purple cat at night").result(timeout=60)
    mo.vstack([mo.md(f"The widget generated {len(gen.results)} result(s):"), done])
    return


if __name__ == "__main__":
    app.run()
