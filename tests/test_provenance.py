"""Provenance that survives: signed bytes kept by every writer, credentials shown, the AI mark.

Images are signed by the official C2PA library (c2pa-python) with its own test certificates,
served by the local server's signed-output mode, and checked with the library's Reader; the XMP
mark is read back by exiftool, a reader nobody here wrote.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from magic_helpers import run, shell_bound_to
from PIL import Image
from provenance_helpers import (
    AI_MARK,
    exiftool,
    needs_c2pa,
    needs_exiftool,
    signed_server,
    signing,
    validation,
)

import jupyter_imagegen as ig
from jupyter_imagegen._cli import main
from jupyter_imagegen._results import credentials as creds
from jupyter_imagegen._widget import data as wd
from jupyter_imagegen._wire.containers import carries_c2pa, read_xmp_packet, with_xmp
from jupyter_imagegen._wire.pngmeta import add_png_text, read_png_text
from jupyter_imagegen._wire.xmp import build_xmp, merge_xmp, read_xmp
from jupyter_imagegen.server import LocalServer, Signing

#: One offline model per format the kit writes XMP into (their listings say which mime).
MODELS = {"image/png": "offline/sketch", "image/jpeg": "offline/photo", "image/webp": "offline/webp"}


@pytest.fixture(scope="module")
def signer_server() -> Iterator[LocalServer]:
    """A local server that signs every image (the library's test certificates)."""
    if not creds.library_available() and os.environ.get("CI", "").lower() != "true":
        pytest.skip("c2pa-python is not installed (pip install 'jupyter-imagegen[provenance]')")
    yield from signed_server()


@pytest.fixture
def signed_client(signer_server: LocalServer) -> Iterator[ig.Client]:
    with ig.Client(api_key="sk-or-v1-test", base_url=signer_server.base_url) as c:
        yield c


# -- signed images: every writer keeps the provider's bytes ---------------------------------------

@needs_c2pa
@pytest.mark.parametrize("mime", sorted(MODELS))
def test_save_keeps_signed_bytes_and_writes_a_sidecar(signed_client: ig.Client, tmp_path: Path,
                                                      mime: str) -> None:
    result = signed_client.generate("a red circle on blue", MODELS[mime])
    image = result.generated[0]
    assert image.mime == mime and validation(image.data, mime)[0] == "Valid"
    (path,) = result.save(tmp_path)
    assert path.read_bytes() == image.data  # byte for byte: the signature still holds
    assert validation(path.read_bytes(), mime)[0] == "Valid"
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert (sidecar["prompt"], sidecar["model"]) == ("a red circle on blue", MODELS[mime])
    assert sidecar["parameters"]["seed"] == result.seed
    assert sidecar["content_credentials"]["state"] == "valid"
    assert sidecar["content_credentials"]["signer"] == "C2PA Signer"


@needs_c2pa
def test_the_old_text_chunk_writer_breaks_the_signature(signed_client: ig.Client) -> None:
    """Why the sidecar: what save() used to do turns Valid into Invalid (the issue's finding)."""
    data = signed_client.generate("a green square", "offline/sketch").generated[0].data
    state, failures = validation(add_png_text(data, {"prompt": "x"}), "image/png")
    assert state == "Invalid" and "assertion.dataHash.mismatch" in failures
    shown = creds.check_credentials(add_png_text(data, {"prompt": "x"}), "image/png")
    assert shown.state == "invalid" and "assertion.dataHash.mismatch" in shown.label()


@needs_c2pa
def test_the_store_keeps_signed_bytes(signed_client: ig.Client, tmp_path: Path) -> None:
    store = ig.ImageStore(tmp_path / "store")
    result = signed_client.generate("a blue star", "offline/photo")
    (entry,) = store.add(result)
    assert entry.path.read_bytes() == result.generated[0].data
    assert validation(entry.path.read_bytes(), "image/jpeg")[0] == "Valid"
    assert entry.credentials.state == "valid" and entry.credentials.signer == "C2PA Signer"
    record = json.loads((store.directory / "index.jsonl").read_text().splitlines()[0])
    assert record["credentials"] == "valid" and record["params"]["seed"] == result.seed
    page = store.export_html(tmp_path / "gallery.html").read_text()
    assert "Content Credentials: valid, signed by C2PA Signer (C2PA Test Signing Cert)" in page


@needs_c2pa
def test_the_widget_download_keeps_signed_bytes_and_sends_the_sidecar(
        signed_client: ig.Client) -> None:
    result = signed_client.generate("a yellow moon", "offline/webp")
    reply, buffers = wd.image_reply(result, "download", "r1", 0)
    assert buffers is not None and buffers[0] == result.generated[0].data
    assert reply["name"].endswith(".webp") and reply["sidecar"] == reply["name"] + ".json"
    sidecar = json.loads(buffers[1])
    assert sidecar["prompt"] == "a yellow moon" and sidecar["content_credentials"]["state"] == "valid"
    # An unsigned image is one file, with its metadata inside.
    plain = ig.ImageResult("p", "m", (ig.GeneratedImage(_png(), "image/png"),))
    reply, buffers = wd.image_reply(plain, "download", "r2", 0)
    assert "sidecar" not in reply and buffers is not None and len(buffers) == 1
    assert read_png_text(buffers[0])["prompt"] == "p"


@needs_c2pa
def test_the_magic_out_option_keeps_signed_bytes(signed_client: ig.Client, tmp_path: Path) -> None:
    for shell in shell_bound_to(signed_client):
        cell = run(shell, f"%%imagegen -m offline/sketch -o {tmp_path} --as kept\na purple moon")
        assert cell.result.success, cell.everything
        result = shell.user_ns["kept"]
    (path,) = tmp_path.glob("*.png")
    assert path.read_bytes() == result.generated[0].data
    assert validation(path.read_bytes(), "image/png")[0] == "Valid"
    assert json.loads(path.with_name(path.name + ".json").read_text())["prompt"] == "a purple moon"


@needs_c2pa
def test_the_command_line_keeps_signed_bytes(signer_server: LocalServer, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["generate", "two red stars", "-m", "offline/photo", "-o", str(tmp_path),
                 "--base-url", signer_server.base_url])
    out = capsys.readouterr().out
    assert code == 0, out
    (path,) = tmp_path.glob("*.jpg")
    assert validation(path.read_bytes(), "image/jpeg")[0] == "Valid"
    assert (tmp_path / (path.name + ".json")).is_file()
    assert "Content Credentials: valid, signed by C2PA Signer" in out


# -- credentials shown, and never claimed unchecked --------------------------------------------------

@needs_c2pa
def test_results_and_captions_say_who_signed(signed_client: ig.Client) -> None:
    result = signed_client.generate("an orange triangle", "offline/sketch")
    shown = result.generated[0].credentials
    assert (shown.state, shown.signer, shown.issuer) == ("valid", "C2PA Signer", "C2PA Test Signing Cert")
    assert shown.on_trust_list is False  # the library's test signer is on no trust list
    assert "signingCredential.untrusted" in shown.problems
    assert "C2PA: valid, signed by C2PA Signer; signer not on a trust list" in result.caption()
    entry = wd.history_entry("r1", result)  # the widget's gallery caption is the same line
    assert "C2PA: valid" in entry["caption"]


@needs_c2pa
def test_without_the_library_nothing_is_claimed(signed_client: ig.Client, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    result = signed_client.generate("a white cloud", "offline/sketch")
    monkeypatch.setattr(creds, "library_available", lambda: False)
    image = ig.GeneratedImage(result.generated[0].data, "image/png")  # not yet checked
    assert image.credentials.state == "unchecked" and image.credentials.on_trust_list is None
    fresh = ig.ImageResult("a white cloud", "offline/sketch", (image,))
    assert "C2PA: not checked (pip install 'jupyter-imagegen[provenance]')" in fresh.caption()
    assert "valid" not in fresh.caption()
    (path,) = fresh.save(tmp_path)  # the markers alone keep the bytes safe
    assert path.read_bytes() == image.data
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert sidecar["content_credentials"] == {"state": "unchecked"}


def test_an_unsigned_image_has_no_credentials_and_no_label() -> None:
    image = ig.GeneratedImage(_png(), "image/png")
    assert image.credentials.state == "none" and image.credentials.label() == ""
    assert "C2PA" not in ig.ImageResult("p", "m", (image,)).caption()


def test_signing_needs_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_c2pa(name: str, *args: object, **kwargs: object) -> object:
        if name == "c2pa":
            raise ImportError("no c2pa here")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_c2pa)
    with pytest.raises(ig.InvalidInputError, match=r"pip install 'jupyter-imagegen\[provenance\]'"):
        Signing(b"certs", b"key")
    assert main(["serve", "--sign", "certs.pem", "key.pem", "--port", "0"]) == 2


@needs_c2pa
def test_a_bad_key_is_refused_when_the_server_is_made(tmp_path: Path) -> None:
    wrong = tmp_path / "key.pem"
    wrong.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ig.InvalidInputError, match="signing failed"):
        Signing(signing()._certificates, wrong)
    with pytest.raises(ig.InvalidInputError, match="cannot read the signing key"):
        Signing(signing()._certificates, tmp_path / "missing.pem")
    assert "BEGIN" not in repr(signing())  # the key never shows


# -- the AI mark: XMP in PNG, JPEG and WebP, read by exiftool ----------------------------------------

@needs_exiftool
@pytest.mark.parametrize("mime", sorted(MODELS))
def test_unsigned_files_carry_the_ai_mark(client: ig.Client, tmp_path: Path, mime: str) -> None:
    result = client.generate("a lighthouse at dusk", MODELS[mime])
    original = result.generated[0]
    (path,) = result.save(tmp_path)
    found = exiftool(path, "-XMP:all")
    assert found["XMP-iptcExt:DigitalSourceType"] == AI_MARK
    assert found["XMP-iptcExt:AISystemUsed"] == MODELS[mime]
    assert found["XMP-iptcExt:AIPromptInformation"] == "a lighthouse at dusk"
    assert re.fullmatch(r"\d{4}:\d\d:\d\d \d\d:\d\d:\d\dZ", str(found["XMP-xmp:CreateDate"]))
    assert str(found["XMP-xmp:CreatorTool"]).startswith("jupyter_imagegen ")
    assert json.loads(found["XMP-imagegen:Parameters"])["seed"] == result.seed
    # Pillow still decodes exactly the pixels the model sent.
    saved, sent = Image.open(path), Image.open(io.BytesIO(original.data))
    assert (saved.mode, saved.size) == (sent.mode, sent.size) and saved.tobytes() == sent.tobytes()
    assert not [k for k in exiftool(path, "-warning") if k.endswith("Warning")]


@needs_exiftool
def test_the_ai_mark_can_be_turned_off(client: ig.Client, tmp_path: Path) -> None:
    result = client.generate("a lighthouse at dusk", "offline/photo")
    with ig.save_options(xmp=False):
        (path,) = result.save(tmp_path)
    assert path.read_bytes() == result.generated[0].data
    assert "XMP-iptcExt:DigitalSourceType" not in exiftool(path, "-XMP:all")
    assert ig.save_options().__enter__().xmp is True  # the with block restored it
    with pytest.raises(ig.InvalidInputError, match="unknown save option"):
        ig.save_options(xmpp=False)


def test_the_command_line_can_leave_the_mark_out(shared_server: LocalServer,
                                                 tmp_path: Path) -> None:
    code = main(["generate", "x", "-m", "offline/webp", "-o", str(tmp_path), "--no-xmp",
                 "--base-url", shared_server.base_url])
    assert code == 0
    (path,) = tmp_path.glob("*.webp")
    assert read_xmp_packet(path.read_bytes(), "image/webp") is None


def test_the_environment_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_imagegen._results import provenance

    monkeypatch.setenv("JUPYTER_IMAGEGEN_XMP", "0")
    assert provenance._from_env().xmp is False
    monkeypatch.setenv("JUPYTER_IMAGEGEN_XMP", "1")
    assert provenance._from_env().xmp is True


def test_a_huge_prompt_keeps_the_mark_in_a_jpeg(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "JPEG")
    prompt = "a very long prompt " * 5000  # 95 KB: more than one JPEG segment holds
    result = ig.ImageResult(prompt, "vendor/m", (ig.GeneratedImage(buffer.getvalue(), "image/jpeg"),))
    (path,) = result.save(tmp_path)
    fields = read_xmp(read_xmp_packet(path.read_bytes(), "image/jpeg") or "")
    assert fields["Iptc4xmpExt:DigitalSourceType"] == AI_MARK and fields["model"] == "vendor/m"
    assert "prompt" not in fields  # it is in the sidecar
    assert json.loads(path.with_name(path.name + ".json").read_text())["prompt"] == prompt


# -- the containers, byte for byte -------------------------------------------------------------------

def _png(colour: str = "blue") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 4), colour).save(buffer, "PNG")
    return buffer.getvalue()


def _encoded(fmt: str, mode: str = "RGB", **options: object) -> bytes:
    image = Image.new(mode, (33, 17), (200, 30, 40, 128)[:len(mode)])
    image.putpixel((3, 4), (1, 2, 3, 4)[:len(mode)])
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(("mime", "data"), [
    ("image/png", _encoded("PNG")), ("image/png", _encoded("PNG", "RGBA")),
    ("image/jpeg", _encoded("JPEG")), ("image/jpeg", _encoded("JPEG", exif=b"Exif\0\0II*\0")),
    ("image/webp", _encoded("WEBP", quality=80)), ("image/webp", _encoded("WEBP", lossless=True)),
    ("image/webp", _encoded("WEBP", "RGBA", lossless=True)), ("image/webp", _encoded("WEBP", "RGBA")),
], ids=["png", "png-rgba", "jpeg", "jpeg-exif", "webp-lossy", "webp-lossless", "webp-alpha",
        "webp-lossy-alpha"])
def test_xmp_goes_in_and_out_without_touching_pixels(mime: str, data: bytes) -> None:
    packet = build_xmp({"prompt": "a <red> & ünïcode fox"}, model="m/x", created="2026-01-02T03:04:05Z")
    once = with_xmp(data, mime, packet)
    twice = with_xmp(once, mime, merge_xmp(read_xmp_packet(once, mime), {"prompt": "second"}))
    for tagged in (once, twice):
        before, after = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(tagged))
        assert (after.mode, after.size) == (before.mode, before.size)
        assert after.tobytes() == before.tobytes()
    assert read_xmp(read_xmp_packet(once, mime) or "")["prompt"] == "a <red> & ünïcode fox"
    assert read_xmp(read_xmp_packet(twice, mime) or "")["prompt"] == "second"
    assert twice.count(b"x:xmpmeta") == 2  # one packet (open and close tags), never two
    if mime == "image/jpeg" and b"Exif" in data:
        assert twice.index(b"Exif") < twice.index(b"x:xmpmeta")  # Exif stays first


def test_another_writers_xmp_is_kept_beside_ours() -> None:
    foreign = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
               '"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
               'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:format>image/png</dc:format>'
               '</rdf:Description></rdf:RDF></x:xmpmeta>')
    merged = merge_xmp(merge_xmp(foreign, {"prompt": "a"}), {"prompt": "b"})
    assert "<dc:format>image/png</dc:format>" in merged
    assert merged.count('imagegen:writer="jupyter_imagegen"') == 1
    assert read_xmp(merged)["prompt"] == "b"


def test_xmp_with_entities_is_not_parsed() -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">&a;</x:xmpmeta>')
    assert read_xmp(bomb) == {}
    assert read_xmp("<x:xmpmeta not xml") == {}


def test_saving_a_saved_png_replaces_its_fields() -> None:
    once = add_png_text(_png(), {"prompt": "one", "model": "m"})
    twice = add_png_text(once, {"prompt": "two"})
    assert read_png_text(twice) == {"prompt": "two", "model": "m"}
    assert twice.count(b"iTXtprompt") == 1


def test_markers_of_a_manifest_are_found_without_the_library() -> None:
    assert not carries_c2pa(_png(), "image/png")
    png = _png()
    marked = png[:33] + b"\0\0\0\x04caBXjumb\0\0\0\0" + png[33:]  # a caBX chunk (bad CRC: no matter)
    assert carries_c2pa(marked, "image/png")
    remote = with_xmp(_png(), "image/png", build_xmp({}).replace(
        "</rdf:RDF>", '<rdf:Description dcterms:provenance="https://x/m.c2pa"/></rdf:RDF>'))
    assert carries_c2pa(remote, "image/png")  # a remote manifest binds the bytes too
