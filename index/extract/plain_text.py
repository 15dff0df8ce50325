"""Plain text in any common encoding: UTF-8 (with or without BOM), UTF-16/32 with a BOM, and
legacy single- and multi-byte encodings detected with charset-normalizer."""

from __future__ import annotations

import codecs
import logging
import unicodedata

from index.extract import UNREADABLE, ExtractionError, Extracted, checked_text, library_version

logger = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16: they share a prefix
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
#: The legacy encodings documents are written in. DOS and Macintosh code pages are left out:
#: on short texts charset-normalizer prefers them as often as the right one.
LEGACY_ENCODINGS = (
    "cp1252", "iso8859_15", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp874",
    "koi8_r", "koi8_u", "iso8859_2", "iso8859_5", "iso8859_7", "shift_jis", "euc_jp", "gb18030", "big5", "euc_kr",
)
#: Among equally plausible decodings, the most common legacy encoding wins (``"Café"`` reads
#: the same in a dozen code pages, and is almost always Windows-1252).
_PREFERRED = ("cp1252", "iso8859_15", "cp1250", "cp1251")
_WIDE = ("utf_16_le", "utf_16_be", "utf_32_le", "utf_32_be")
_SAME = 0.01  # chaos and coherence closer than this count as a tie


def decode_text(raw: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode bytes of text whose encoding is not given.

    A byte-order mark decides; else UTF-8 when the bytes are valid UTF-8; else an encoding the
    document ``declared`` (an HTML ``<meta charset>``) when it decodes them; else the most
    plausible decoding charset-normalizer finds.

    Returns:
        ``(text, encoding name)``.

    Raises:
        ExtractionError: :data:`UNREADABLE` for binary data or text in no known encoding.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise ExtractionError(UNREADABLE, f"not valid {encoding} after its byte-order mark (byte {exc.start})") from None
    head = raw[:8192]
    if b"\x00" in head:  # UTF-16/32 without a byte-order mark, or not text at all
        # Text in a Latin, Greek or Cyrillic script in UTF-16 is about half NUL bytes; a binary
        # file decoded as UTF-16 gives control characters.
        if 10 * head.count(0) >= 3 * len(head):
            text, encoding = _detect(raw, _WIDE)
            if not any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text):
                return text, encoding
        raise ExtractionError(UNREADABLE, "binary file (contains NUL bytes)")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return raw.decode(declared), codecs.lookup(declared).name
        except (LookupError, UnicodeDecodeError):
            pass
    return _detect(raw, LEGACY_ENCODINGS)


def _detect(raw: bytes, encodings: tuple[str, ...]) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw, cp_isolation=list(encodings)))
    if encodings is _WIDE and (not matches or min(m.chaos for m in matches) > 0.1):
        raise ExtractionError(UNREADABLE, "binary file (contains NUL bytes)")
    if not matches:
        raise ExtractionError(UNREADABLE, "not text in any known encoding")
    least_chaos = min(m.chaos for m in matches)
    calm = [m for m in matches if m.chaos <= least_chaos + _SAME]
    best_coherence = max(m.coherence for m in calm)
    tied = [m for m in calm if m.coherence >= best_coherence - _SAME]
    best = min(tied, key=lambda m: _PREFERRED.index(m.encoding) if m.encoding in _PREFERRED else len(_PREFERRED))
    text = str(best)
    for name in _PREFERRED:  # name the more common encoding when it reads the bytes the same way
        if name == best.encoding:
            break
        if _decodes_as(raw, name, text):
            return text, name
    return text, best.encoding


def _decodes_as(raw: bytes, encoding: str, text: str) -> bool:
    try:
        return raw.decode(encoding) == text
    except UnicodeDecodeError:
        return False


class PlainTextExtractor:
    """``.txt`` files: the decoded text as it is; the title is the first non-empty line."""

    format = "text"
    suffixes = (".txt", ".text")

    def __init__(self) -> None:
        self.version = f"text/1 {library_version('charset-normalizer')}"

    def extract(self, raw: bytes) -> Extracted:
        text, encoding = decode_text(raw)
        return Extracted(checked_text(text), encoding=encoding)
