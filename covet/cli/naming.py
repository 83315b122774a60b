"""Names for generated code: one name in (``Product``, ``user_profile``, ``order-item``), every
spelling the generators need out (class, module, table, route prefix), with English plurals.

The rules, in the order they are tried on the *last* word of a name (``UserProfile`` pluralises
``profile``; ``SalesPerson`` gives ``sales_people``):

1. uncountable words stay as they are (``equipment``, ``information``, ``data``, ``series``,
   ``species``, ``news``...);
2. irregular words (``person`` -> ``people``, ``child`` -> ``children``, ``mouse`` -> ``mice``,
   ``analysis`` -> ``analyses``...), also as the end of a compound (``salesperson``,
   ``grandchild``, ``chairman``; ``human`` and ``german`` are not compounds of ``man``);
3. ``-f``/``-fe`` -> ``-ves`` for the words English treats so (``leaf``, ``knife``, ``wolf``),
   ``-s`` for the others (``roof``, ``chief``, ``belief``);
4. a consonant then ``-y`` -> ``-ies`` (``category``); a vowel then ``-y`` -> ``-ys`` (``day``);
5. ``-s``, ``-x``, ``-z``, ``-ch``, ``-sh`` -> ``-es`` (``status``, ``box``, ``church``), except a
   ``-ch`` said ``k`` (``epoch``, ``stomach``);
6. ``-o`` -> ``-oes`` for ``hero``, ``potato``... (``photo``, ``video`` take ``-s``);
7. anything else takes ``-s``.

A name that is already plural (``Products``, ``Categories``, ``People``) is taken as the plural
of its singular: the class is ``Product``, the table ``products``. A word counts as plural only
when undoing one rule above gives a word whose plural is the input again, and when it is not
one of the singulars that end in ``s`` (``status``, ``bus``, ``analysis``, ``class``); so
``Status`` stays ``Status`` / ``statuses``, ``News`` stays ``News`` / ``news``.

Example::

    n = resource_names("UserProfile")
    n.class_name, n.module, n.table, n.route   # 'UserProfile', 'user_profile', 'user_profiles', 'user-profiles'
    pluralize("person")                        # 'people'
"""
import keyword
import re
from typing import List, NamedTuple, Tuple

__all__ = ["NameError_", "Names", "resource_names", "split_words", "pluralize", "singularize",
           "MAX_NAME_LENGTH"]

#: Longest name accepted: it becomes a file name, a class, a table and a URL segment.
MAX_NAME_LENGTH = 64

# What a name may be spelled with before conversion: ASCII letters, digits, '_' and '-'.
_NAME_CHARS = re.compile(r"[A-Za-z0-9_-]+\Z")
# Words of a PascalCase/camelCase run: an acronym before a capitalised word ("HTTPRequest" ->
# HTTP, Request), a capitalised or lower-case word, digits staying with the word before them.
_PASCAL = re.compile(r"[A-Z][A-Za-z0-9]*\Z")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+[0-9]*|[A-Z]+[0-9]*|[0-9]+")

UNCOUNTABLE = frozenset("""
    advice aircraft audio baggage bison cattle chassis data deer education equipment evidence feedback
    fish furniture gold hardware homework information jeans knowledge luggage metadata money moose
    music news offspring research rice salmon series sheep shrimp software species staff swine traffic
    trout tuna wheat media
""".split())

# singular -> plural for words whose plural no rule gives.
IRREGULAR = {
    "person": "people", "child": "children", "man": "men", "woman": "women", "mouse": "mice",
    "louse": "lice", "goose": "geese", "tooth": "teeth", "foot": "feet", "ox": "oxen", "die": "dice",
    "quiz": "quizzes", "datum": "data", "medium": "media", "criterion": "criteria",
    "phenomenon": "phenomena", "bacterium": "bacteria", "curriculum": "curricula", "axis": "axes",
    "analysis": "analyses", "basis": "bases", "crisis": "crises", "diagnosis": "diagnoses",
    "hypothesis": "hypotheses", "thesis": "theses", "synopsis": "synopses", "ellipsis": "ellipses",
    "parenthesis": "parentheses", "matrix": "matrices", "vertex": "vertices", "appendix": "appendices",
    "cactus": "cacti", "fungus": "fungi", "nucleus": "nuclei", "radius": "radii", "alumnus": "alumni",
}
# Irregulars that also end compounds: salesperson, grandchild, chairwoman, dormouse, bigfoot.
_COMPOUND_ENDINGS = ("person", "child", "woman", "man", "mouse", "goose", "tooth", "foot")
# Words that end in "man" but are not "...man" compounds: they take a plain -s.
_NOT_MAN_COMPOUNDS = frozenset("human german roman shaman talisman ottoman caiman cayman".split())

_VES = frozenset("calf elf half knife leaf life loaf scarf self sheaf shelf thief wharf wife wolf".split())
_OES = frozenset("buffalo cargo echo embargo hero mosquito potato tomato torpedo veto volcano".split())
_CH_AS_K = frozenset("epoch monarch stomach patriarch matriarch oligarch tech".split())
# Words that end like a plural but are singular: -s words that are not -ss, -us or -is (which
# are never stripped), the -us words whose plural is -uses, and -men words that are no compound.
_SINGULAR_S = frozenset("""
    alias atlas bias canvas chaos gas lens physics mathematics ethics economics analytics logistics
    status bus virus campus bonus census corpus focus genus octopus syllabus thesaurus consensus
    apparatus abacus chorus circus citrus lotus walrus prospectus
    specimen regimen abdomen omen stamen
""".split())
# Singulars ending in -ie: their plural is -ies, but not from a -y (movies -> movie, not movy).
_IE = frozenset("movie cookie pie tie lie zombie rookie calorie genie selfie smoothie hoodie goalie brownie "
                "prairie sortie auntie".split())
# Singulars ending in -che: their plural strips only the "s" (caches -> cache, not cach).
_CHE = frozenset("cache niche headache avalanche moustache mustache psyche".split())

_PLURAL_OF = {plural: singular for singular, plural in IRREGULAR.items()}


class NameError_(ValueError):
    """A name the generators refuse; the message says why (``covet generate`` exits 2 with it).

    (The trailing underscore keeps it apart from Python's built-in ``NameError``.)

    Example::

        try:
            resource_names("class")
        except NameError_ as exc:
            print(exc)
    """


class Names(NamedTuple):
    """Every spelling of one name that generated code uses."""
    words: Tuple[str, ...]        #: the singular words, lower case: ('user', 'profile')
    class_name: str               #: 'UserProfile'
    module: str                   #: 'user_profile' (file and function names)
    plural: str                   #: 'user_profiles' (function names of collections)
    table: str                    #: 'user_profiles'
    route: str                    #: 'user-profiles' (the last segment of the route prefix)
    kebab: str                    #: 'user-profile'
    title: str                    #: 'user profile' (for messages and docstrings)
    plural_title: str             #: 'user profiles'


def split_words(name: str) -> List[str]:
    """The lower-case words of a PascalCase, camelCase, snake_case or kebab-case name.

    Example::

        split_words("HTTPRequest_log-entry")   # ['http', 'request', 'log', 'entry']
    """
    words: List[str] = []
    for part in re.split(r"[_-]+", name):
        words.extend(w.lower() for w in _WORD.findall(part))
    return words


def _compound(word: str) -> Tuple[str, str]:
    """(head, irregular ending) when ``word`` ends with a compound-forming irregular, else ('', '')."""
    for ending in _COMPOUND_ENDINGS:
        if word.endswith(ending) and len(word) > len(ending):
            if ending == "man" and (word in _NOT_MAN_COMPOUNDS or word.endswith("woman")):
                continue
            return word[:-len(ending)], ending
    return "", ""


def pluralize(word: str) -> str:
    """The English plural of one lower-case word (rules in the module docstring).

    Example::

        [pluralize(w) for w in ("category", "status", "leaf", "roof", "person")]
        # ['categories', 'statuses', 'leaves', 'roofs', 'people']
    """
    if not word or word in UNCOUNTABLE:
        return word
    if word in IRREGULAR:
        return IRREGULAR[word]
    head, ending = _compound(word)
    if ending:
        return head + IRREGULAR[ending]
    if word in _VES:
        return word[:-2] + "ves" if word.endswith("fe") else word[:-1] + "ves"
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith("ch") and word in _CH_AS_K:
        return word + "s"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word in _OES:
        return word + "es"
    return word + "s"


def singularize(word: str) -> str:
    """The singular of ``word`` when it reads as a plural (rules in the module docstring), else ``word``.

    Example::

        [singularize(w) for w in ("categories", "people", "status", "news", "houses")]
        # ['category', 'person', 'status', 'news', 'house']
    """
    if word in UNCOUNTABLE or word in IRREGULAR or word in _SINGULAR_S:
        return word
    if word in _PLURAL_OF:
        return _PLURAL_OF[word]
    for ending in _COMPOUND_ENDINGS:
        plural = IRREGULAR[ending]
        if word.endswith(plural) and len(word) > len(plural):
            return word[:-len(plural)] + ending   # salespeople, grandchildren, chairmen
    if len(word) < 3 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return word
    stem = word[:-1]          # the plain "-s" reading: houses -> house, ideas -> idea
    if word.endswith("ies"):
        return stem if stem in _IE else word[:-3] + "y"
    if word.endswith("ves"):
        for singular in (word[:-3] + "f", word[:-3] + "fe"):
            if singular in _VES:
                return singular
        return stem
    if word.endswith(("sses", "xes", "shes")):
        return word[:-2]
    if word.endswith("ches"):
        return stem if stem in _CHE else word[:-2]
    if word.endswith("ses"):
        return word[:-2] if word[:-2] in _SINGULAR_S else stem
    if word.endswith("zes"):
        return word[:-2] if word[:-2].endswith(("zz", "tz")) else stem
    if word.endswith("oes"):
        return word[:-2] if word[:-2] in _OES else stem
    return stem


def _check_identifier(kind: str, value: str, given: str) -> None:
    if not value.isidentifier() or not value.isascii():
        raise NameError_("%r is not a usable name: its %s %r is not a Python identifier (start with a letter; "
                         "use letters, digits, '_' or '-')" % (given, kind, value))
    if keyword.iskeyword(value):
        raise NameError_("%r is not a usable name: its %s %r is a Python keyword" % (given, kind, value))


def resource_names(name: str, singular: bool = True) -> Names:
    """Every spelling of ``name``, taken as singular (an already plural name is singularised);
    with ``singular=False`` the words are kept as given (a router called ``webhooks``).

    :raises NameError_: empty, longer than :data:`MAX_NAME_LENGTH`, characters other than ASCII
        letters, digits, ``_`` and ``-``, a leading digit, or a class/module/table name that is a
        Python keyword (``class``, ``None``, ``import``).

    Example::

        resource_names("people").class_name     # 'Person'
    """
    if not isinstance(name, str) or not name.strip():
        raise NameError_("a name is required (e.g. Product, user_profile or order-item)")
    if len(name) > MAX_NAME_LENGTH:
        raise NameError_("%r is too long: at most %d characters" % (name[:80], MAX_NAME_LENGTH))
    if not _NAME_CHARS.match(name):
        raise NameError_("%r is not a usable name: use ASCII letters, digits, '_' or '-' (e.g. Product, "
                         "user_profile or order-item)" % (name,))
    words = split_words(name)
    if not words:
        raise NameError_("%r is not a usable name: it has no letters" % (name,))
    if words[0][0].isdigit():
        raise NameError_("%r is not a usable name: it starts with a digit, and a Python name cannot" % (name,))
    last = words[-1]
    if singular:
        words[-1] = singularize(last)
    plural_words = words[:-1] + [pluralize(words[-1])]
    if _PASCAL.match(name) and words[-1] == last:
        class_name = name   # kept as written: HTTPRequest stays HTTPRequest
    else:
        class_name = "".join(w[:1].upper() + w[1:] for w in words)
    names = Names(
        words=tuple(words), class_name=class_name, module="_".join(words), plural="_".join(plural_words),
        table="_".join(plural_words), route="-".join(plural_words), kebab="-".join(words),
        title=" ".join(words), plural_title=" ".join(plural_words))
    _check_identifier("class name", names.class_name, name)
    _check_identifier("module name", names.module, name)
    _check_identifier("table name", names.table, name)
    return names
