"""The network ``format`` checkers: email, uri, hostname (with IDNA2008 A-labels), ipv4, ipv6.

Apart from ``_formats`` because their grammars are the costly part to build (the RFC 3986 URI
regex, the IDNA tables): ``_formats.FORMATS`` imports this module with the first schema that
names one of these formats. Every regex is ASCII-only and matched with ``fullmatch``.
"""
import re
import unicodedata

__all__ = ["is_email", "is_uri", "is_hostname", "is_ipv4", "is_ipv6"]


# RFC 2673 §3.2 dotted-quad: four decimal octets 0-255 without leading zeros.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(r"{0}\.{0}\.{0}\.{0}".format(_OCTET))
_HEXTET = re.compile(r"[0-9A-Fa-f]{1,4}")
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]+")


def is_ipv4(value: str) -> bool:
    """RFC 2673 dotted-quad IPv4 address."""
    return _IPV4.fullmatch(value) is not None


def is_ipv6(value: str) -> bool:
    """RFC 4291 §2.2 text form: eight hextets, one ``::``, optional dotted-quad tail; no zone id."""
    if _IPV6_CHARS.fullmatch(value) is None:
        return False
    if "." in value:
        head, _, tail = value.rpartition(":")
        if not is_ipv4(tail):
            return False
        value = head + ":0:0"
    if "::" in value:
        if value.count("::") > 1:
            return False
        left, right = value.split("::")
        groups = (left.split(":") if left else []) + (right.split(":") if right else [])
        if len(groups) > 7:
            return False
    else:
        groups = value.split(":")
        if len(groups) != 8:
            return False
    return all(_HEXTET.fullmatch(group) for group in groups)


# RFC 1123 §2.1 label: letters, digits, hyphens, not starting or ending with a hyphen, 1-63 chars.
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# RFC 5892 §2.6 exceptions: code points whose IDNA2008 property is fixed by hand.
_IDNA_PVALID = frozenset("\u00df\u03c2\u06fd\u06fe\u0f0b\u3007")
_IDNA_DISALLOWED = frozenset("\u0640\u07fa\u302e\u302f\u3031\u3032\u3033\u3034\u3035\u303b")
_ARABIC_INDIC = frozenset(chr(c) for c in range(0x0660, 0x066A))
_EXT_ARABIC_INDIC = frozenset(chr(c) for c in range(0x06F0, 0x06FA))
# Scripts whose letters join (RFC 5892 Appendix A.1 Joining_Type L/D/R); unicodedata has no
# Joining_Type, so every letter of these scripts counts as dual-joining (an approximation).
_JOINING_SCRIPTS = ("ARABIC ", "SYRIAC ", "NKO ", "MONGOLIAN ", "PHAGS-PA ", "MANDAIC ",
                    "MANICHAEAN ", "PSALTER PAHLAVI ", "HANIFI ROHINGYA ", "SOGDIAN ", "ADLAM ")


def _name(char: str) -> str:
    return unicodedata.name(char, "")


def _joining(char: str) -> bool:
    return unicodedata.category(char).startswith("L") and _name(char).startswith(_JOINING_SCRIPTS)


def _transparent(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Me", "Cf")


def _is_han(char: str) -> bool:
    return _name(char).startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"))


def _context_ok(label: str, i: int) -> bool:
    """RFC 5892 Appendix A: the CONTEXTJ and CONTEXTO rules."""
    char = label[i]
    before = label[i - 1] if i > 0 else ""
    after = label[i + 1] if i + 1 < len(label) else ""
    if char == "\u200d":  # ZERO WIDTH JOINER: only after a virama
        return before != "" and unicodedata.combining(before) == 9
    if char == "\u200c":  # ZERO WIDTH NON-JOINER: after a virama, or between joining letters
        if before and unicodedata.combining(before) == 9:
            return True
        j = i - 1
        while j >= 0 and _transparent(label[j]):
            j -= 1
        k = i + 1
        while k < len(label) and _transparent(label[k]):
            k += 1
        return j >= 0 and k < len(label) and _joining(label[j]) and _joining(label[k])
    if char == "\u00b7":  # MIDDLE DOT: between two 'l'
        return before == "l" and after == "l"
    if char == "\u0375":  # GREEK KERAIA: followed by Greek
        return after != "" and _name(after).startswith("GREEK")
    if char in "\u05f3\u05f4":  # HEBREW GERESH / GERSHAYIM: preceded by Hebrew
        return before != "" and _name(before).startswith("HEBREW")
    if char == "\u30fb":  # KATAKANA MIDDLE DOT: some Hiragana, Katakana or Han in the label
        return any(c != "\u30fb" and (_name(c).startswith(("HIRAGANA", "KATAKANA")) or _is_han(c))
                   for c in label)
    if char in _ARABIC_INDIC:
        return not any(c in _EXT_ARABIC_INDIC for c in label)
    if char in _EXT_ARABIC_INDIC:
        return not any(c in _ARABIC_INDIC for c in label)
    return True


_CONTEXTUAL = frozenset("\u200c\u200d\u00b7\u0375\u05f3\u05f4\u30fb") | _ARABIC_INDIC | _EXT_ARABIC_INDIC


def _u_label_ok(a_label: str) -> bool:
    """RFC 5891 §5.4 / RFC 5892: the Punycode of an ``xn--`` label decodes to a valid U-label."""
    try:
        ulabel = a_label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return False
    if not ulabel or ulabel.encode("punycode").decode("ascii") != a_label[4:].lower():
        return False
    if ulabel[2:4] == "--" or ulabel[0] == "-" or ulabel[-1] == "-":  # RFC 5891 §4.2.3.1
        return False
    if unicodedata.category(ulabel[0]).startswith("M"):  # RFC 5891 §4.2.3.2
        return False
    for i, char in enumerate(ulabel):
        if char in _IDNA_DISALLOWED:
            return False
        if char in _CONTEXTUAL:
            if not _context_ok(ulabel, i):
                return False
            continue
        if char in _IDNA_PVALID or char == "-":
            continue
        # RFC 5892 §2.2/§2.3: Unstable (changed by NFKC_Casefold) is DISALLOWED; LetterDigits are PVALID.
        if unicodedata.normalize("NFKC", char.casefold()) != char:
            return False
        if unicodedata.category(char) not in ("Ll", "Lo", "Lm", "Mn", "Mc", "Nd"):
            return False
    return True


def is_hostname(value: str) -> bool:
    """RFC 1123 host name; ``xn--`` labels must be valid IDNA2008 A-labels (RFC 5890)."""
    if not value or len(value) > 253:
        return False
    for label in value.split("."):
        if _LABEL.fullmatch(label) is None:
            return False
        if label[2:4] == "--":
            # RFC 5891 §4.2.3.1: "--" in positions 3-4 is reserved for A-labels ("xn--").
            if label[:2].lower() != "xn" or not _u_label_ok(label):
                return False
    return True


# RFC 5321 §4.1.2: Local-part = Dot-string / Quoted-string.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LOCAL = r'(?:{0}+(?:\.{0}+)*|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*")'.format(_ATEXT)
_MAILBOX = re.compile(_LOCAL + r"@(.+)")


def is_email(value: str) -> bool:
    """RFC 5321 §4.1.2 Mailbox: dot-string or quoted local part, host name or address literal."""
    match = _MAILBOX.fullmatch(value)
    if match is None:
        return False
    domain = match.group(1)
    if len(value) - len(domain) - 1 > 64:  # RFC 5321 §4.5.3.1.1: local part at most 64 octets
        return False
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        if literal[:5].lower() == "ipv6:":
            return is_ipv6(literal[5:])
        return is_ipv4(literal)
    return is_hostname(domain)


# RFC 3986 Appendix A, transcribed; every repetition is over disjoint alternatives, so no backtracking blow-up.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = r"(?:[%s%s:@]|%s)" % (_UNRESERVED, _SUB_DELIMS, _PCT)
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_USERINFO = r"(?:[%s%s:]|%s)*" % (_UNRESERVED, _SUB_DELIMS, _PCT)
_REG_NAME = r"(?:[%s%s]|%s)*" % (_UNRESERVED, _SUB_DELIMS, _PCT)
_IP_LITERAL = r"\[([^\]/]*)\]"
_AUTHORITY = r"(?:%s@)?(?:%s|%s)(?::[0-9]*)?" % (_USERINFO, _IP_LITERAL, _REG_NAME)
_PATH_ABEMPTY = r"(?:/%s*)*" % _PCHAR
_PATH_ABSOLUTE = r"/(?:%s+(?:/%s*)*)?" % (_PCHAR, _PCHAR)
_PATH_ROOTLESS = r"%s+(?:/%s*)*" % (_PCHAR, _PCHAR)
_QUERY = r"(?:%s|[/?])*" % _PCHAR
_URI = re.compile(r"%s:(?://%s%s|%s|%s|)(?:\?%s)?(?:#%s)?" % (
    _SCHEME, _AUTHORITY, _PATH_ABEMPTY, _PATH_ABSOLUTE, _PATH_ROOTLESS, _QUERY, _QUERY))
# RFC 3986 §3.2.2: IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
_IPV_FUTURE = re.compile(r"[vV][0-9A-Fa-f]+\.[%s%s:]+" % (_UNRESERVED, _SUB_DELIMS))


def is_uri(value: str) -> bool:
    """RFC 3986 §3 URI (absolute: a scheme is required; no spaces, no non-ASCII)."""
    match = _URI.fullmatch(value)
    if match is None:
        return False
    literal = match.group(1)
    return literal is None or is_ipv6(literal) or _IPV_FUTURE.fullmatch(literal) is not None
