"""XSSProtector and covet.security.sanitize: the OWASP XSS Filter Evasion Cheat Sheet vectors
(https://cheatsheetseries.owasp.org/cheatsheets/XSS_Filter_Evasion_Cheat_Sheet.html) and the
classic mutation-XSS shapes come out with no executable markup; benign markup survives exactly."""
import re
from html.parser import HTMLParser

import pytest

from covet.security import XSSProtector
from covet.security.sanitize import ALLOWED_TAGS, HTMLSanitizer, url_is_safe

XSS = XSSProtector()

VECTORS = [
    # -- basic and case / quoting tricks
    "<SCRIPT SRC=https://xss.rocks/xss.js></SCRIPT>",
    "<script>alert('XSS')</script>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<script >alert(1)</script >",
    "<script/src=//evil.example/x.js></script>",
    "<<SCRIPT>alert(\"XSS\");//\\<</SCRIPT>",
    "<SCRIPT SRC=http://xss.rocks/xss.js?< B >",
    "<SCRIPT SRC=//xss.rocks/.j>",
    "<SCRIPT/XSS SRC=\"http://xss.rocks/xss.js\"></SCRIPT>",
    "<SCRIPT/SRC=\"http://xss.rocks/xss.js\"></SCRIPT>",
    "<SCRIPT a=\">\" SRC=\"httx://xss.rocks/xss.js\"></SCRIPT>",
    "<SCRIPT =\">\" SRC=\"httx://xss.rocks/xss.js\"></SCRIPT>",
    "<SCRIPT a=\">\" '' SRC=\"httx://xss.rocks/xss.js\"></SCRIPT>",
    "<SCRIPT \"a='>'\" SRC=\"httx://xss.rocks/xss.js\"></SCRIPT>",
    "<SCRIPT a=`>` SRC=\"httx://xss.rocks/xss.js\"></SCRIPT>",
    "<SCRIPT a=\">'>\" SRC=\"httx://xss.rocks/xss.js\"></SCRIPT>",
    "<SCRIPT>document.write(\"<SCRI\");</SCRIPT>PT SRC=\"httx://xss.rocks/xss.js\"></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "</TITLE><SCRIPT>alert(\"XSS\");</SCRIPT>",
    "<script>alert(1)",
    "<script",
    "\\<script>alert(1)</script>",
    "%3Cscript%3Ealert(1)%3C/script%3E<script>alert(2)</script>",
    "<script>/*</script><img src=x onerror=alert(1)>*/</script>",
    # -- javascript: URLs and their encodings
    "<a href=\"javascript:alert('XSS')\">x</a>",
    "<a href=javascript:alert(1)>x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"jav\tascript:alert(1);\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1);\">x</a>",
    "<a href=\"jav&#x0A;ascript:alert(1);\">x</a>",
    "<a href=\"jav&#x0D;ascript:alert(1);\">x</a>",
    "<a href=\"jav&#9;ascript:alert(1)\">x</a>",
    "<a href=\" &#14;  javascript:alert('XSS');\">x</a>",
    "<a href=\"java\x00script:alert(1)\">x</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058"
    "alert(1)\">x</a>",
    "<a href=\"&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A alert(1)\">x</a>",
    "<a href=\"javascript&colon;alert(1)\">x</a>",
    "<a href=\"javascript&#58;alert(1)\">x</a>",
    "<a href=\"javas&Tab;cript:alert(1)\">x</a>",
    "<a href=\"javas&NewLine;cript:alert(1)\">x</a>",
    "<a href=\"\u2028javascript:alert(1)\">x</a>",
    "<a href=\"\ufeffjavascript:alert(1)\">x</a>",
    "<a href=\"  javascript:alert(1)\">x</a>",
    "<a href='vbscript:msgbox(\"XSS\")'>x</a>",
    "<a href=\"VBSCRIPT:msgbox(1)\">x</a>",
    "<a href=\"livescript:alert(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4K\">x</a>",
    "<a href=\"DATA:text/html,<script>alert(1)</script>\">x</a>",
    "<a href=\"ｊavascript:alert(1)\">x</a>",
    "<a href=\"javascript:alert(1)\" href=\"https://ok.example/\">x</a>",
    "<blockquote cite=\"javascript:alert(1)\">q</blockquote>",
    "<q cite=\"vbscript:x\">q</q>",
    # -- images, media and on* handlers
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    "<IMG \"\"\"><SCRIPT>alert(\"XSS\")</SCRIPT>\"\\>",
    "<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>",
    "<IMG SRC=# onmouseover=\"alert('xxs')\">",
    "<IMG SRC= onmouseover=\"alert('xxs')\">",
    "<IMG onmouseover=\"alert('xxs')\">",
    "<IMG SRC=/ onerror=\"alert(String.fromCharCode(88,83,83))\"></img>",
    "<img src=x onerror=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112"
    "&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083"
    "&#0000083&#0000039&#0000041\">",
    "<IMG DYNSRC=\"javascript:alert('XSS')\">",
    "<IMG LOWSRC=\"javascript:alert('XSS')\">",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<img/src=x/onerror=alert(1)>",
    "<img src=\"x\" onerror  =  \"alert(1)\">",
    "<img src=x onerror=alert(1)//",
    "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
    "<BODY ONLOAD=alert('XSS')>",
    "<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert(\"XSS\")>",
    "<svg/onload=alert('XSS')>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text x=20 y=20>XSS</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<video><source onerror=\"alert(1)\">",
    "<audio src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<input onfocus=alert(1) autofocus>",
    "<b onmouseover=alert('Wufff!')>click me!</b>",
    "<a href=\"https://ok.example/\" onclick=\"alert(1)\">x</a>",
    "<p ONCLICK=alert(1)>x</p>",
    "<a href=\"https://ok.example/\"onmouseover=alert(1)>x</a>",
    "<a title=\"x\" \nonmouseover=alert(1)>x</a>",
    # -- style, CSS and legacy browser tricks
    "<STYLE>@import'http://xss.rocks/xss.css';</STYLE>",
    "<STYLE>BODY{-moz-binding:url(\"http://xss.rocks/xssmoz.xml#xss\")}</STYLE>",
    "<STYLE>li {list-style-image: url(\"javascript:alert('XSS')\");}</STYLE><UL><LI>XSS</br>",
    "<IMG STYLE=\"xss:expr/*XSS*/ession(alert('XSS'))\">",
    "<p style=\"background:url(javascript:alert(1))\">x</p>",
    "<b style=\"behavior: url(xss.htc);\">x</b>",
    "<STYLE TYPE=\"text/javascript\">alert('XSS');</STYLE>",
    "<STYLE>.XSS{background-image:url(\"javascript:alert('XSS')\");}</STYLE><A CLASS=XSS></A>",
    "<LINK REL=\"stylesheet\" HREF=\"javascript:alert('XSS');\">",
    "<LINK REL=\"stylesheet\" HREF=\"http://xss.rocks/xss.css\">",
    "<META HTTP-EQUIV=\"refresh\" CONTENT=\"0;url=javascript:alert('XSS');\">",
    "<META HTTP-EQUIV=\"Link\" Content=\"<http://xss.rocks/xss.css>; REL=stylesheet\">",
    "<IFRAME SRC=\"javascript:alert('XSS');\"></IFRAME>",
    "<IFRAME SRC=# onmouseover=\"alert(document.cookie)\"></IFRAME>",
    "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>",
    "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
    "<TABLE><TD BACKGROUND=\"javascript:alert('XSS')\">",
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
    "<DIV STYLE=\"width: expression(alert('XSS'));\">",
    "<BASE HREF=\"javascript:alert('XSS');//\">",
    "<OBJECT TYPE=\"text/x-scriptlet\" DATA=\"http://xss.rocks/scriptlet.html\"></OBJECT>",
    "<EMBED SRC=\"data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH\" type=\"image/svg+xml\">",
    "<EMBED SRC=\"http://ha.ckers.org/xss.swf\" AllowScriptAccess=\"always\"></EMBED>",
    "<XML ID=\"xss\"><I><B><IMG SRC=\"javas<!-- -->cript:alert('XSS')\"></B></I></XML>",
    "<HTML xmlns:xss><?import namespace=\"xss\" implementation=\"http://xss.rocks/xss.htc\"><xss:xss>XSS</xss:xss>",
    "<?xml version=\"1.0\"?><script>alert(1)</script>",
    "<!--[if gte IE 4]><SCRIPT>alert('XSS');</SCRIPT><![endif]-->",
    "<!--<img src=\"--><img src=x onerror=alert(1)//\">",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<!DOCTYPE html><script>alert(1)</script>",
    "<form action=\"javascript:alert(1)\"><button formaction=\"javascript:alert(1)\">x</button></form>",
    "<isindex type=image src=1 onerror=alert(1)>",
    "<object data=\"javascript:alert(1)\">",
    "<applet code=\"javascript:alert(1)\"></applet>",
    "<template><script>alert(1)</script></template>",
    # -- mutation XSS: raw-text elements parsed differently by browsers and html.parser
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<xmp><p title=\"</xmp><img src=x onerror=alert(1)>\">",
    "<noembed><p title=\"</noembed><img src=x onerror=alert(1)>\">",
    "<noframes><p title=\"</noframes><img src=x onerror=alert(1)>\">",
    "<textarea><p title=\"</textarea><img src=x onerror=alert(1)>\">",
    "<title><p title=\"</title><img src=x onerror=alert(1)>\">",
    "<iframe><p title=\"</iframe><img src=x onerror=alert(1)>\">",
    "<plaintext><script>alert(1)</script>",
    "<style><p title=\"</style><img src=x onerror=alert(1)>\">",
    "<a title=\"</a><img src=x onerror=alert(1)>\">x</a>",
    "<a href=\"https://ok.example/\" title='\"><script>alert(1)</script>'>x</a>",
    "<b><i>unclosed <script>alert(1)",
    "<a href=\"https://ok.example/\x00\" onclick\x00=alert(1)>x</a>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
]


class _Reader(HTMLParser):
    """What a browser-like reading of the output holds: every tag and attribute."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.attrs = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, name, value) for name, value in attrs)

    handle_startendtag = handle_starttag


_SCHEME_RE = re.compile(r"^\s*([a-z][a-z0-9+.\-]*):", re.I)


def assert_inert(out):
    assert "<script" not in out.lower()
    assert "<style" not in out.lower()
    reader = _Reader()
    reader.feed(out)
    reader.close()
    assert set(reader.tags) <= ALLOWED_TAGS, reader.tags
    for tag, name, value in reader.attrs:
        assert not name.startswith("on"), (tag, name)
        assert name != "style"
        if name in ("href", "src", "cite", "background", "action", "formaction", "xlink:href"):
            cleaned = re.sub(r"[\x00-\x20\x7f-\x9f]", "", value or "")
            found = _SCHEME_RE.match(cleaned)
            assert found is None or found.group(1).lower() in ("http", "https", "mailto"), (tag, name, value)
            for bad in ("javascript:", "vbscript:", "data:", "livescript:"):
                assert bad not in cleaned.lower()
    # Only markup the allow-list wrote: every '<' in the output opens or closes an allowed tag.
    for match in re.finditer(r"<(/?)([^\s>/]*)", out):
        assert match.group(2) in ALLOWED_TAGS, (match.group(0), out)


def test_there_are_at_least_100_vectors():
    assert len(VECTORS) >= 100
    assert len(set(VECTORS)) == len(VECTORS)


def test_the_checker_catches_each_unsanitised_vector():
    # The table is worth something only if assert_inert fails on the vectors as given.
    caught = 0
    for vector in VECTORS:
        try:
            assert_inert(vector)
        except AssertionError:
            caught += 1
    assert caught >= len(VECTORS) - 2  # the full-width "ｊavascript:" is inert by itself


@pytest.mark.parametrize("vector", VECTORS)
def test_vector_leaves_no_executable_markup(vector):
    out = XSS.clean(vector)
    assert_inert(out)
    # Sanitising the output again changes nothing: the output is a fixed point.
    assert XSS.clean(out) == out


@pytest.mark.parametrize("vector", VECTORS)
def test_vector_leaves_no_markup_at_all_with_strip(vector):
    out = XSSProtector(strip=True).clean(vector)
    assert "<" not in out and ">" not in out.replace("&gt;", "")


@pytest.mark.parametrize("html", [
    "<p>Hello, <b>world</b>!</p>",
    "<p><em>emphasis</em> and <strong>strong</strong> and <i>i</i></p>",
    "<ul><li>one</li><li>two <code>x = 1</code></li></ul>",
    "<ol><li>first</li></ol>",
    "<pre><code>def f():\n    return 1\n</code></pre>",
    "<blockquote cite=\"https://example.com/source\">quoted</blockquote>",
    "line one<br>line two",
    "<a href=\"https://example.com/a?b=1&amp;c=2#frag\" title=\"Example\" rel=\"noopener noreferrer\">link</a>",
    "<a href=\"/relative/path\" rel=\"noopener noreferrer\">rel</a>",
    "<a href=\"mailto:ada@example.com\" rel=\"noopener noreferrer\">mail</a>",
    "<a href=\"#top\" rel=\"noopener noreferrer\">top</a>",
    "<a href=\"page.html?x=a:b\" rel=\"noopener noreferrer\">colon after ?</a>",
    "<p>5 &lt; 6 &amp;&amp; 7 &gt; 3</p>",
    "<abbr title=\"HyperText Markup Language\">HTML</abbr>",
    "plain text with no markup",
    "caf\u00e9 \u2014 \u65e5\u672c\u8a9e",
    "<p>It's \"quoted\"</p>",
])
def test_benign_markup_survives_exactly(html):
    assert XSS.clean(html) == html


@pytest.mark.parametrize("given, expected", [
    ("<b>bold", "<b>bold</b>"),
    ("<ul><li>a<li>b</ul>", "<ul><li>a<li>b</li></li></ul>"),
    ("</b>stray", "stray"),
    ("<b>a <i>b</b> c</i>", "<b>a <i>b</i></b> c"),
    ("<br/>", "<br>"),
    ("Tom & Jerry", "Tom &amp; Jerry"),
    ("&eacute;t&eacute; &#233; &#xE9;", "\u00e9t\u00e9 \u00e9 \u00e9"),
    ("a < b", "a &lt; b"),
    ("x\x00y", "xy"),
    ("<a href='https://x.example/'>x</a>", '<a href="https://x.example/" rel="noopener noreferrer">x</a>'),
    ('<a href="https://x.example/" rel="opener">x</a>', '<a href="https://x.example/" rel="noopener noreferrer">x</a>'),
    ('<a href="https://x.example/" target="_blank">x</a>',
     '<a href="https://x.example/" rel="noopener noreferrer">x</a>'),
    ('<a href="https://a.example/" href="javascript:x">x</a>',
     '<a href="https://a.example/" rel="noopener noreferrer">x</a>'),
    ("<div><span>kept text</span></div>", "kept text"),
    ("<p>a<!-- secret -->b</p>", "<p>ab</p>"),
    ("<script>alert(1)</script>after", "after"),
    ("<style>p{}</style>after", "after"),
    ('<a title="a&quot;b">x</a>', '<a title="a&quot;b" rel="noopener noreferrer">x</a>'),
])
def test_normalisation(given, expected):
    assert XSS.clean(given) == expected


def test_strip_keeps_text_escaped_and_drops_script_content():
    strip = XSSProtector(strip=True)
    assert strip.strip is True
    assert strip.clean("<i>Tom</i> & <script>alert(1)</script>Jerry") == "Tom &amp; Jerry"
    assert strip.clean('<a href="https://x.example/">link</a> <b>b</b>') == "link b"


def test_sanitize_walks_nested_data_and_keeps_non_strings():
    data = {"bio": "<b>hi</b><img src=x onerror=alert(1)>", "tags": ["<i>a</i>", "<script>x</script>b"],
            "n": 3, "ok": True, "none": None, "nested": {"deep": ("<u>u</u>", 1.5)}, "<k>": "v"}
    assert XSS.sanitize(data) == {"bio": "<b>hi</b>", "tags": ["<i>a</i>", "b"], "n": 3, "ok": True, "none": None,
                                  "nested": {"deep": ("<u>u</u>", 1.5)}, "<k>": "v"}
    assert XSS.sanitize("<b>x</b>") == "<b>x</b>"
    assert XSS("<script>x</script>") == ""


def test_configured_allow_list():
    xss = XSSProtector(allowed_tags={"b", "img"}, allowed_attributes={"img": ["src", "alt"], "*": ["title"]})
    assert xss.clean('<b title="t">b</b><i>i</i><img src="https://x.example/p.png" alt="p" width="1">') == \
        '<b title="t">b</b>i<img src="https://x.example/p.png" alt="p">'
    assert xss.clean('<img src="data:image/png;base64,AAAA">') == "<img>"
    ftp = XSSProtector(allowed_protocols=["ftp"])
    assert ftp.clean('<a href="ftp://x.example/f">f</a>') == \
        '<a href="ftp://x.example/f" rel="noopener noreferrer">f</a>'
    assert ftp.clean('<a href="https://x.example/">f</a>') == '<a rel="noopener noreferrer">f</a>'


@pytest.mark.parametrize("kwargs, message", [
    ({"allowed_tags": ["script"]}, "script cannot be allowed"),
    ({"allowed_tags": ["b", "style"]}, "style cannot be allowed"),
    ({"allowed_attributes": {"b": ["style"]}}, "'style' attribute cannot be allowed"),
    ({"allowed_attributes": {"*": ["onclick"]}}, "'onclick' attribute cannot be allowed"),
    ({"allowed_protocols": ["https", "javascript"]}, "'javascript' URL scheme cannot be allowed"),
    ({"allowed_protocols": ["data"]}, "'data' URL scheme cannot be allowed"),
])
def test_dangerous_configuration_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        XSSProtector(**kwargs)


def test_bad_configuration_types():
    with pytest.raises(TypeError):
        XSSProtector(allowed_tags="b")
    with pytest.raises(TypeError):
        XSSProtector(allowed_attributes=[("a", "href")])
    with pytest.raises(TypeError):
        HTMLSanitizer().clean(b"<b>")


@pytest.mark.parametrize("url, safe", [
    ("https://x.example/", True), ("HTTP://x.example/", True), ("mailto:a@b.example", True),
    ("/a:b", True), ("a/b:c", True), ("?x=y:z", True), ("#a:b", True), ("//host/p", True), ("", True),
    ("javascript:x", False), (" java\nscript:x", False), ("java\x00script:x", False), ("ftp://x", False),
    ("a:b", False), ("\u0435xample:x", False), (":x", False),
])
def test_url_is_safe(url, safe):
    assert url_is_safe(url, frozenset({"http", "https", "mailto"})) is safe
