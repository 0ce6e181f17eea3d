"""The XMP packet the kit writes into images it saves: the AI-disclosure mark plus its own fields.

Why XMP: the EU AI Act (Art. 50, from August 2026) asks that AI-generated images be marked in a
machine-readable way, and the mark readers look for is IPTC's digital source type
``trainedAlgorithmicMedia`` (``Iptc4xmpExt:DigitalSourceType``, NewsCodes vocabulary
http://cv.iptc.org/newscodes/digitalsourcetype/). IPTC Photo Metadata 2025.1 added
``AISystemUsed`` and ``AIPromptInformation`` for the model and the prompt (iptc.org/news,
2025-11: "IPTC Photo Metadata Standard 2025.1"). exiftool reads all of them from PNG, JPEG and
WebP, and so does the kit: the kit's own fields (prompt, model, parameters...) ride along in
one ``imagegen`` namespace, so a JPEG or WebP carries its recipe in the file too.

Pure: builds and reads packet text, no I/O. Parsing refuses DTDs and entities outright (an image
is foreign input, and XMP never needs them).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from xml.sax.saxutils import escape

__all__ = ["AI_SOURCE_TYPE", "KIT_NS", "build_xmp", "merge_xmp", "read_xmp"]

#: IPTC NewsCodes digital source type of media made by a trained model (a generated image).
AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#: The namespace of the kit's own fields. A URN: it names, it is never fetched.
KIT_NS = "urn:jupyter-imagegen:xmp:1.0#"
_IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_XMP = "http://ns.adobe.com/xap/1.0/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_X = "adobe:ns:meta/"
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
#: Our description is found (and replaced) by this attribute on a later write.
_MARK = 'imagegen:writer="jupyter_imagegen"'
_OURS = re.compile(r"<rdf:Description\b[^>]*" + re.escape(_MARK) + r".*?</rdf:Description>\s*",
                   re.S)


def _element(name: str, value: str) -> str:
    return f"   <{name}>{escape(value)}</{name}>\n"


def _description(fields: Mapping[str, str], model: str | None = None, prompt: str | None = None,
                 created: str | None = None, tool: str | None = None) -> str:
    """One ``rdf:Description``: the IPTC mark, the standard fields, then the kit's fields."""
    body = _element("Iptc4xmpExt:DigitalSourceType", AI_SOURCE_TYPE)
    if model:
        body += _element("Iptc4xmpExt:AISystemUsed", model)
    if prompt:
        body += _element("Iptc4xmpExt:AIPromptInformation", prompt)
    if created:
        body += _element("xmp:CreateDate", created)
    if tool:
        body += _element("xmp:CreatorTool", tool)
    for key, value in fields.items():
        if _FIELD.match(key):  # element names: anything else cannot be one (and is not ours)
            body += _element(f"imagegen:{key}", value)
    return (f'  <rdf:Description rdf:about="" {_MARK}\n'
            f'    xmlns:Iptc4xmpExt="{_IPTC_EXT}"\n    xmlns:xmp="{_XMP}"\n'
            f'    xmlns:imagegen="{KIT_NS}">\n{body}  </rdf:Description>\n')


def build_xmp(fields: Mapping[str, str], *, model: str | None = None, prompt: str | None = None,
              created: str | None = None, tool: str | None = None) -> str:
    """A whole XMP packet: the AI mark, the model, prompt and time, and the kit's ``fields``."""
    return (f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            f'<x:xmpmeta xmlns:x="{_X}">\n <rdf:RDF xmlns:rdf="{_RDF}">\n'
            f"{_description(fields, model, prompt, created, tool)}"
            ' </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>')


def merge_xmp(existing: str | None, fields: Mapping[str, str], *, model: str | None = None,
              prompt: str | None = None, created: str | None = None,
              tool: str | None = None) -> str:
    """``existing`` (another writer's packet) with the kit's description in it, or a new packet.

    A description the kit wrote earlier is replaced, so saving a saved file again does not pile
    up copies; anything else in the packet is kept as it was. A packet that is not one (no
    ``</rdf:RDF>``) is replaced by ours.
    """
    ours = _description(fields, model, prompt, created, tool)
    if existing is None or "</rdf:RDF>" not in existing:
        return build_xmp(fields, model=model, prompt=prompt, created=created, tool=tool)
    kept = _OURS.sub("", existing)
    head, _, tail = kept.rpartition("</rdf:RDF>")
    return f"{head}{ours} </rdf:RDF>{tail}"


def read_xmp(packet: str) -> dict[str, str]:
    """The fields of a packet: the kit's own by name, and the IPTC ones as ``Iptc4xmpExt:NAME``.

    Unreadable XML (or XML with a DTD or entities, which XMP never has) reads as ``{}``.
    """
    if "<!DOCTYPE" in packet or "<!ENTITY" in packet:
        return {}
    start, end = packet.find("<x:xmpmeta"), packet.rfind("</x:xmpmeta>")
    xml = packet[start:end + len("</x:xmpmeta>")] if start >= 0 and end > start else packet
    try:
        root = ET.fromstring(xml)  # noqa: S314 - DTDs and entities are refused above
    except ET.ParseError:
        return {}
    out: dict[str, str] = {}
    for element in root.iter():
        ns, _, name = element.tag.rpartition("}")
        ns = ns.lstrip("{")
        value = (element.text or "").strip() if len(element) == 0 else None
        if value is None:
            continue
        if ns == KIT_NS and name != "writer":
            out[name] = element.text or ""
        elif ns == _IPTC_EXT:
            out[f"Iptc4xmpExt:{name}"] = value
        elif ns == _XMP:
            out[f"xmp:{name}"] = value
    for element in root.iter(f"{{{_RDF}}}Description"):  # properties written as attributes
        for attr, value in element.attrib.items():
            ns, _, name = attr.rpartition("}")
            if ns.lstrip("{") == _IPTC_EXT:
                out.setdefault(f"Iptc4xmpExt:{name}", value)
    return out
