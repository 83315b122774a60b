"""An allow-list HTML sanitiser on ``html.parser``: user HTML in, HTML safe to put in a page out.

The input is parsed into tags, attributes and text, and a new document is written from what the
allow-list keeps; nothing of the input is copied through unparsed. So what comes out is only:

- allowed tags, each closed (unclosed ones at the end, stray end tags dropped), void tags as ``<br>``;
- allowed attributes, first one of each name (as a browser reads duplicates), values entity-decoded
  by the parser and escaped again on output (``"``, ``'``, ``<``, ``>``, ``&``);
- URL attributes (``href``, ``src``, ``cite``...) only with a scheme in ``allowed_protocols``
  (default http, https, mailto) or relative. The scheme is read the way a browser reads it, after
  entity decoding and after removing the ASCII tab, newline and control characters the URL standard
  ignores (``jav&#x09;ascript:``, ``&#106;avascript:``, ``java\\0script:``); a colon before the first
  ``/``, ``?`` or ``#`` with any other scheme drops the attribute;
- text, entity-decoded then escaped (``&``, ``<``, ``>``), so entities come out normalised.

Always dropped, whatever the configuration: ``style`` and every ``on*`` attribute; ``<script>``,
``<style>`` and the other raw-text, template and plug-in elements (``SKIP_CONTENT``) with their
content; comments, CDATA sections, processing instructions and doctypes. Links get
``rel="noopener noreferrer"`` (the opened page cannot reach ``window.opener``, nor learn the URL it
came from).

Example::

    clean = HTMLSanitizer().clean('<p onclick="x()">Hi <a href="javascript:alert(1)">there</a></p>')
    # '<p>Hi <a rel="noopener noreferrer">there</a></p>'
"""
import re
from html import escape
from html.parser import HTMLParser
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

__all__ = ["HTMLSanitizer", "ALLOWED_TAGS", "ALLOWED_ATTRIBUTES", "ALLOWED_PROTOCOLS", "URL_ATTRIBUTES",
           "SKIP_CONTENT"]

#: Tags kept by default: text formatting, lists, quotes, code and links (bleach's defaults plus
#: ``p``, ``br``, ``pre`` and a few inline ones). No images (a tracking pixel), no forms, no tables.
ALLOWED_TAGS: FrozenSet[str] = frozenset({
    "a", "abbr", "acronym", "b", "blockquote", "br", "cite", "code", "del", "em", "i", "ins", "kbd",
    "li", "ol", "p", "pre", "q", "s", "strong", "sub", "sup", "u", "ul",
})
#: Attributes kept by default, per tag (``"*"``: on every allowed tag).
ALLOWED_ATTRIBUTES: Mapping[str, FrozenSet[str]] = {
    "a": frozenset({"href", "title"}),
    "abbr": frozenset({"title"}),
    "acronym": frozenset({"title"}),
    "blockquote": frozenset({"cite"}),
    "q": frozenset({"cite"}),
    "del": frozenset({"cite"}),
    "ins": frozenset({"cite"}),
}
#: URL schemes an allowed URL attribute may carry; a URL without a scheme (relative) is kept too.
ALLOWED_PROTOCOLS: FrozenSet[str] = frozenset({"http", "https", "mailto"})
#: Attributes holding a URL (HTML 4 and 5, SVG's xlink:href): checked against the protocols.
URL_ATTRIBUTES: FrozenSet[str] = frozenset({
    "href", "src", "cite", "action", "formaction", "poster", "background", "longdesc", "usemap", "lowsrc",
    "dynsrc", "codebase", "data", "xlink:href", "manifest", "icon", "profile", "classid", "archive",
})
# Attributes never kept, even when configured: each runs script or styles (CSS expression(),
# url(javascript:), -moz-binding), or holds several URLs this module does not parse one by one.
_NEVER_ATTRIBUTES = frozenset({"style", "srcset", "imagesrcset", "formaction", "action"})
#: Elements dropped with everything inside them: raw text whose content a browser does not parse as
#: this parser does (script, style, xmp, noscript... the classic mutation-XSS vectors), templates,
#: plug-ins, frames and foreign (SVG, MathML) content. None of them can be allowed.
SKIP_CONTENT: FrozenSet[str] = frozenset({
    "script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext", "textarea", "title",
    "template", "object", "applet", "frameset", "svg", "math", "select", "head",
})
# Void elements (HTML §13.1.2): no end tag, no content; never pushed on the open-tag stack.
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta",
                   "param", "source", "track", "wbr", "frame", "basefont", "bgsound", "isindex"})

# What a browser ignores in a URL before reading its scheme: ASCII tab and newlines anywhere (URL
# standard, "remove all ASCII tab or newline"), C0 controls and spaces at the ends. Removing every
# control character and whitespace anywhere is stricter and only ever drops more.
_URL_IGNORED = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# Text with none of these needs no parsing: escaping it changes nothing.
_NEEDS_PARSING = re.compile(r"[<>&\x00]")
# Characters no text node should carry (NUL and the other C0 controls but tab, LF, CR).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINK_REL = ' rel="noopener noreferrer"'


def url_is_safe(value: str, protocols: FrozenSet[str]) -> bool:
    """Whether an (entity-decoded) URL attribute value is relative or uses one of ``protocols``."""
    url = _URL_IGNORED.sub("", value)
    end = len(url)
    for stop in "/?#":
        at = url.find(stop)
        if 0 <= at < end:
            end = at
    colon = url.find(":", 0, end)
    if colon < 0:
        return True  # relative: "page.html", "/x", "//host/x", "?q", "#top"
    found = _SCHEME.match(url)
    return found is not None and found.end() == colon + 1 and found.group(1).lower() in protocols


class _Writer(HTMLParser):
    """One document's pass: parse events in, sanitised HTML out (``parts``)."""

    def __init__(self, policy: "HTMLSanitizer") -> None:
        super().__init__(convert_charrefs=True)
        self.policy = policy
        self.parts: List[str] = []
        self.open: List[str] = []  # allowed tags open in the output, innermost last
        self.skip: List[str] = []  # SKIP_CONTENT elements we are inside of

    # -- tags -------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if self.skip:
            if tag in SKIP_CONTENT and tag not in _VOID:
                self.skip.append(tag)
            return
        if tag in SKIP_CONTENT:
            self.skip.append(tag)
            return
        policy = self.policy
        if policy.strip or tag not in policy.allowed_tags:
            return
        self.parts.append(self._tag(tag, attrs))
        if tag not in _VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        # "<br/>", "<b/>": the slash means nothing in HTML (but on void tags); HTML reads <b/> as <b>.
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        skip = self.skip
        if skip:
            if tag in skip:
                while skip.pop() != tag:
                    pass
            return
        if tag not in self.open:
            return  # a stray end tag (or one of a dropped element)
        while True:
            last = self.open.pop()
            self.parts.append("</%s>" % last)
            if last == tag:
                return

    def _tag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> str:
        policy = self.policy
        allowed = policy.attributes_for(tag)
        out = ["<", tag]
        seen = set()
        for name, value in attrs:
            if name in seen:
                continue  # a browser keeps the first of duplicate attributes
            seen.add(name)
            if name not in allowed or (tag == "a" and name == "rel"):
                continue
            value = "" if value is None else _CONTROLS.sub("", value)
            if name in URL_ATTRIBUTES and not url_is_safe(value, policy.allowed_protocols):
                continue
            out.append(' %s="%s"' % (name, escape(value, quote=True)))
        if tag == "a":
            out.append(_LINK_REL)
        out.append(">")
        return "".join(out)

    # -- text ---------------------------------------------------------------
    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(escape(_CONTROLS.sub("", data), quote=False))

    # Comments, <!DOCTYPE>, <![CDATA[...]]>, <?...>: dropped (a conditional comment, an XML island
    # or a processing instruction is markup some parser may still run).
    def handle_comment(self, data: str) -> None:
        pass

    def handle_decl(self, decl: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass

    def finish(self) -> str:
        self.close()
        for tag in reversed(self.open):
            self.parts.append("</%s>" % tag)
        self.open = []
        return "".join(self.parts)


class HTMLSanitizer:
    """The allow-list: which tags, attributes and URL schemes survive ``clean``. Built once.

    :param allowed_tags: tag names kept (default ``ALLOWED_TAGS``); others are dropped, their text kept.
    :param allowed_attributes: ``{tag: [attribute, ...]}`` (``"*"`` for every tag); default
        ``ALLOWED_ATTRIBUTES``. ``style``, ``on*``, ``srcset``, ``action``/``formaction`` are refused here.
    :param allowed_protocols: URL schemes kept in URL attributes (default http, https, mailto).
    :param strip: drop every tag (the text stays, escaped): plain text safe in HTML.

    Example::

        HTMLSanitizer(allowed_tags={"b", "img"}, allowed_attributes={"img": ["src", "alt"]})
    """

    def __init__(self, allowed_tags: Optional[Iterable[str]] = None,
                 allowed_attributes: Optional[Mapping[str, Iterable[str]]] = None,
                 allowed_protocols: Optional[Iterable[str]] = None, strip: bool = False) -> None:
        tags = ALLOWED_TAGS if allowed_tags is None else frozenset(_names(allowed_tags, "allowed_tags"))
        bad = sorted(tags & SKIP_CONTENT)
        if bad:
            raise ValueError("%s cannot be allowed: its content is raw text or script (SKIP_CONTENT)" % bad[0])
        attributes: Dict[str, FrozenSet[str]] = {}
        source = ALLOWED_ATTRIBUTES if allowed_attributes is None else allowed_attributes
        if not isinstance(source, Mapping):
            raise TypeError("allowed_attributes is a dict {tag: [attribute, ...]}, got %r" % (source,))
        for tag, names in source.items():
            attributes[tag.lower()] = frozenset(_names(names, "allowed_attributes[%r]" % tag))
            for name in attributes[tag.lower()]:
                if name in _NEVER_ATTRIBUTES or name.startswith("on"):
                    raise ValueError("the %r attribute cannot be allowed: it runs script or styles" % name)
        protocols = ALLOWED_PROTOCOLS if allowed_protocols is None else frozenset(
            _names(allowed_protocols, "allowed_protocols"))
        bad = sorted(protocols & {"javascript", "vbscript", "data", "livescript", "mocha", "jscript"})
        if bad:
            raise ValueError("the %r URL scheme cannot be allowed: it runs script" % bad[0])
        self.allowed_tags = tags
        self.allowed_attributes = attributes
        self.allowed_protocols = protocols
        self.strip = bool(strip)
        everywhere = attributes.get("*", frozenset())
        self._per_tag = {tag: attributes.get(tag, frozenset()) | everywhere for tag in tags}

    def attributes_for(self, tag: str) -> FrozenSet[str]:
        """The attribute names kept on ``tag``."""
        return self._per_tag.get(tag, frozenset())

    def clean(self, text: str) -> str:
        """``text`` as sanitised HTML.

        Example::

            HTMLSanitizer().clean("<b>bold</b><script>alert(1)</script>")  # '<b>bold</b>'
        """
        if not isinstance(text, str):
            raise TypeError("clean() takes a str, got %s" % type(text).__name__)
        if _NEEDS_PARSING.search(text) is None:
            return _CONTROLS.sub("", text)  # PERF: plain text, the common case, is not parsed
        writer = _Writer(self)
        writer.feed(text)
        return writer.finish()


def _names(values: Iterable[str], what: str) -> List[str]:
    if isinstance(values, str):
        raise TypeError("%s is a collection of names, not the string %r" % (what, values))
    names = []
    for value in values:
        if not isinstance(value, str) or not value:
            raise TypeError("%s holds names (non-empty str), got %r" % (what, value))
        names.append(value.strip().lower())
    return names
