"""What generated template code calls at render time.

One ``Runtime`` per engine holds the engine's undefined type, its filters and
tests, and the helpers bound into every compiled template's namespace
(attribute lookup with the private-name guard, loops, includes, imports,
inheritance). Nothing here parses: rendering only runs compiled code.
"""
import functools
from itertools import chain

from ._errors import SecurityError, TemplateError, TemplateNotFound, UndefinedError
from ._markup import Markup, SafeFormatter, escape_str, soft_str
from ._template import Template

__all__ = ["MISSING", "UNSAFE_ATTRIBUTES", "Undefined", "StrictUndefined", "LoopContext", "Cycler", "Joiner",
           "Namespace", "TemplateModule", "Runtime", "object_type_repr"]


class _Missing:
    __slots__ = ()

    def __repr__(self):
        return "MISSING"


MISSING = _Missing()

# Attribute names that reach interpreter internals without a leading "_"
# (frames, code objects, globals: the escapes Jinja2's sandbox closes).
UNSAFE_ATTRIBUTES = frozenset((
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame",
    "ag_code", "ag_await", "f_globals", "f_locals", "f_builtins", "f_back", "f_code",
    "tb_frame", "tb_next", "mro",
))


def object_type_repr(obj):
    """'dict object', 'None', 'mymodule.User object': how messages name a value's type."""
    if obj is None:
        return "None"
    if obj is Ellipsis:
        return "Ellipsis"
    cls = type(obj)
    if cls.__module__ == "builtins":
        return "%s object" % cls.__name__
    return "%s.%s object" % (cls.__module__, cls.__name__)


class Undefined:
    """A missing value: prints as '', iterates as empty, is false; any other use raises."""

    __slots__ = ("_undefined_name", "_undefined_obj", "_undefined_hint")

    def __init__(self, name=None, obj=MISSING, hint=None):
        self._undefined_name = name
        self._undefined_obj = obj
        self._undefined_hint = hint

    @property
    def _undefined_message(self):
        if self._undefined_hint:
            return self._undefined_hint
        if self._undefined_obj is MISSING:
            return "%r is undefined" % (self._undefined_name,)
        if not isinstance(self._undefined_name, str):
            return "%s has no element %r" % (object_type_repr(self._undefined_obj), self._undefined_name)
        return "%r has no attribute %r" % (object_type_repr(self._undefined_obj), self._undefined_name)

    def _fail(self, *args, **kwargs):
        raise UndefinedError(self._undefined_message)

    def __getattr__(self, name):
        if name[:2] == "__":
            raise AttributeError(name)
        return self._fail()

    __add__ = __radd__ = __sub__ = __rsub__ = _fail
    __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _fail
    __pos__ = __neg__ = __call__ = __getitem__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = _fail
    __int__ = __float__ = __complex__ = __pow__ = __rpow__ = _fail

    def __eq__(self, other):
        return type(self) is type(other)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return id(type(self))

    def __str__(self):
        return ""

    def __len__(self):
        return 0

    def __iter__(self):
        return iter(())

    def __bool__(self):
        return False

    def __repr__(self):
        return "Undefined"


class StrictUndefined(Undefined):
    """Undefined that also raises when printed, iterated, tested or compared."""

    __slots__ = ()
    __iter__ = __str__ = __len__ = Undefined._fail
    __eq__ = __ne__ = __bool__ = __hash__ = __contains__ = Undefined._fail


class Context(dict):
    """The render context: a dict whose missing keys read as the engine's undefined."""

    __slots__ = ()
    undefined = Undefined

    def __missing__(self, key):
        return self.undefined(key)


class LoopContext:
    """The ``loop`` object of a for-loop, for uses the compiler cannot inline."""

    __slots__ = ("_iterable", "_iterator", "_after", "_before", "_current", "index0",
                 "_length", "depth0", "_recurse", "_changed")
    undefined = Undefined

    def __init__(self, iterable, depth0=0, recurse=None):
        self._iterable = iterable
        self._iterator = iter(iterable)
        self._after = MISSING
        self._before = MISSING
        self._current = MISSING
        self.index0 = -1
        self._length = None
        self.depth0 = depth0
        self._recurse = recurse
        self._changed = MISSING

    def __iter__(self):
        return self

    def __next__(self):
        if self._after is not MISSING:
            item = self._after
            self._after = MISSING
        else:
            item = next(self._iterator)
        self.index0 += 1
        self._before = self._current
        self._current = item
        return item

    def _peek(self):
        if self._after is MISSING:
            self._after = next(self._iterator, MISSING)
        return self._after

    @property
    def length(self):
        """Number of items in the loop (materialises a generator on first use)."""
        if self._length is None:
            try:
                self._length = len(self._iterable)
            except TypeError:
                rest = list(self._iterator)
                self._iterator = iter(rest)
                self._length = len(rest) + self.index0 + 1 + (self._after is not MISSING)
        return self._length

    @property
    def index(self):
        """1-based position."""
        return self.index0 + 1

    @property
    def revindex(self):
        """Items left including this one."""
        return self.length - self.index0

    @property
    def revindex0(self):
        """Items left after this one."""
        return self.length - self.index

    @property
    def first(self):
        """True on the first iteration."""
        return self.index0 == 0

    @property
    def last(self):
        """True on the last iteration."""
        return self._peek() is MISSING

    @property
    def previtem(self):
        """The item of the previous iteration (undefined on the first)."""
        if self._before is MISSING:
            return self.undefined(hint="there is no previous item")
        return self._before

    @property
    def nextitem(self):
        """The item of the next iteration (undefined on the last)."""
        item = self._peek()
        if item is MISSING:
            return self.undefined(hint="there is no next item")
        return item

    @property
    def depth(self):
        """Recursion level of a recursive loop, starting at 1."""
        return self.depth0 + 1

    def cycle(self, *items):
        """The item of ``items`` for this iteration, cycling."""
        if not items:
            raise TypeError("loop.cycle() needs at least one item")
        return items[self.index0 % len(items)]

    def changed(self, *value):
        """True when ``value`` differs from the value given on the previous call."""
        if self._changed != value:
            self._changed = value
            return True
        return False

    def __call__(self, iterable):
        if self._recurse is None:
            raise TypeError("the loop is not marked 'recursive', so loop(...) cannot be called")
        return self._recurse(iterable, self.depth0 + 1)

    def __repr__(self):
        return "<LoopContext %d/%s>" % (self.index, self._length if self._length is not None else "?")


class Cycler:
    """``cycler(a, b, c)``: ``next()`` returns the items in turn, forever."""

    def __init__(self, *items):
        if not items:
            raise TypeError("cycler() needs at least one item")
        self.items = items
        self.pos = 0

    def reset(self):
        """Go back to the first item."""
        self.pos = 0

    @property
    def current(self):
        """The item ``next()`` will return."""
        return self.items[self.pos]

    def next(self):
        """Return the current item and advance."""
        item = self.current
        self.pos = (self.pos + 1) % len(self.items)
        return item

    __next__ = next


class Joiner:
    """``joiner(sep)``: returns '' when first called, then ``sep`` every time."""

    def __init__(self, sep=", "):
        self.sep = sep
        self.used = False

    def __call__(self):
        if not self.used:
            self.used = True
            return ""
        return self.sep


class Namespace:
    """``namespace(a=1)``: an object whose attributes ``{% set ns.a = ... %}`` may change."""

    def __init__(self, *args, **kwargs):
        self.__dict__.update(dict(*args, **kwargs))

    def __repr__(self):
        return "<Namespace %r>" % (self.__dict__,)


class TemplateModule:
    """What ``{% import %}`` binds: the template's macros and top-level variables."""

    def __init__(self, template, exported, body):
        self.__dict__.update(exported)
        self.__dict__["_template_name"] = template.name
        self.__dict__["_body"] = body
        self.__dict__["_autoescape"] = template.autoescape

    def __str__(self):
        return self._body

    def __html__(self):
        return Markup(self._body) if self._autoescape else escape_str(self._body)

    def __repr__(self):
        return "<TemplateModule %r>" % (self._template_name,)


class TemplateReference:
    """``self`` in a template: ``self.title()`` renders the block named title again."""

    __slots__ = ("_ctx", "_blocks")

    def __init__(self, ctx, blocks):
        self._ctx = ctx
        self._blocks = blocks

    def __getattr__(self, name):
        if name[:2] == "__":
            raise AttributeError(name)
        try:
            func = self._blocks[name][0]
        except (KeyError, IndexError):
            raise UndefinedError("there is no block named %r" % name) from None
        ctx, blocks = self._ctx, self._blocks

        def render_block():
            out = []
            func(ctx, out, blocks)
            return Markup("".join(out))
        return render_block

    def __repr__(self):
        return "<TemplateReference %s>" % ", ".join(sorted(self._blocks))


def markup_join(items):
    """``a ~ b`` with autoescape: Markup if any part is Markup (the others escaped), else str."""
    buf = []
    iterator = map(soft_str, items)
    for arg in iterator:
        buf.append(arg)
        if hasattr(arg, "__html__"):
            return Markup("").join(chain(buf, iterator))
    return "".join(buf)


def str_join(items):
    """``a ~ b`` without autoescape."""
    return "".join(map(str, items))


def as_sequence(value):
    """The loop's items as a list or tuple so its length is known."""
    if value.__class__ is list or value.__class__ is tuple:
        return value
    return list(value)


def _refuse(obj, name):
    raise SecurityError("access to attribute %r of %s is refused: names starting with '_' "
                        "and interpreter internals are private" % (name, object_type_repr(obj)))


def _safe_format_method(obj, name):
    if isinstance(obj, Markup):
        return getattr(obj, name)
    formatter = SafeFormatter()
    if name == "format":
        return functools.partial(formatter.format, obj)
    return lambda mapping: formatter.vformat(obj, (), mapping)


def make_accessors(undefined, unsafe=UNSAFE_ATTRIBUTES):
    """Attribute/item lookup helpers bound to one engine's undefined type."""

    def getattr_(obj, name):
        try:
            return getattr(obj, name)
        except AttributeError:
            pass
        try:
            return obj[name]
        except (TypeError, LookupError):
            return undefined(name, obj)

    def getattr_data(obj, name):
        # PERF: an exact dict has no instance attributes, so for a name that is
        # not a dict method the answer is the item; this skips raising and
        # catching AttributeError for every `row.name` on a dict (Jinja2 pays it).
        if obj.__class__ is dict:
            try:
                return obj[name]
            except KeyError:
                return undefined(name, obj)
        try:
            return getattr(obj, name)
        except AttributeError:
            pass
        try:
            return obj[name]
        except (TypeError, LookupError):
            return undefined(name, obj)

    def getattr_private(obj, name):
        try:
            return obj[name]
        except (TypeError, LookupError, AttributeError):
            _refuse(obj, name)

    def getattr_format(obj, name):
        if isinstance(obj, str):
            return _safe_format_method(obj, name)
        return getattr_(obj, name)

    def getitem(obj, key):
        try:
            return obj[key]
        except (AttributeError, TypeError, LookupError):
            if isinstance(key, str):
                if key[:1] == "_" or key in unsafe:
                    _refuse(obj, key)
                if key in ("format", "format_map") and isinstance(obj, str):
                    return _safe_format_method(obj, key)
                try:
                    return getattr(obj, key)
                except AttributeError:
                    pass
            return undefined(key, obj)

    return getattr_, getattr_data, getattr_private, getattr_format, getitem


class Runtime:
    """Per-engine services for compiled templates (loading, including, inheritance)."""

    def __init__(self, engine, undefined):
        self.engine = engine
        self.undefined = undefined
        self.Context = type("Context", (Context,), {"__slots__": (), "undefined": undefined})
        self.Loop = type("LoopContext", (LoopContext,), {"__slots__": (), "undefined": undefined})
        (self.getattr, self.getattr_data, self.getattr_private, self.getattr_format,
         self.getitem) = make_accessors(undefined)

    def namespace(self):
        """The names every compiled template module starts from."""
        return {
            "_rt": self, "_e": escape_str, "_str": str, "_mk": functools.partial(str.__new__, Markup),
            "_U": self.undefined, "_MISS": MISSING, "_ga": self.getattr, "_gad": self.getattr_data,
            "_gap": self.getattr_private, "_gaf": self.getattr_format, "_gi": self.getitem,
            "_slice": slice, "_float": float, "_cat_m": markup_join, "_cat_s": str_join,
            "_Loop": self.Loop, "_enum": enumerate, "_len": len, "_seq": as_sequence,
            "_nsset": self.namespace_set,
        }

    @staticmethod
    def namespace_set(ns, attr, value):
        if not isinstance(ns, Namespace):
            raise TemplateError("cannot assign attribute %r on %s: only a namespace() accepts "
                                "{%% set x.attr = ... %%}" % (attr, object_type_repr(ns)))
        setattr(ns, attr, value)

    def new_context(self):
        """A context holding only the engine's globals."""
        return self.Context(self.engine.globals)

    def derive(self, ctx, local_vars):
        """A copy of ``ctx`` with the caller's local variables added (include with context)."""
        new = self.Context(ctx)
        if local_vars:
            new.update(local_vars)
        return new

    def load(self, name, parent=None):
        """The template ``name`` refers to: a name, a Template, or a list (first that exists)."""
        if isinstance(name, Template):
            return name
        if isinstance(name, (list, tuple)):
            for item in name:
                try:
                    return self.load(item, parent)
                except TemplateNotFound:
                    continue
            raise TemplateNotFound(list(name), "none of the templates %r exist" % (list(name),))
        if isinstance(name, Undefined):
            name._fail()
        if not isinstance(name, str):
            raise TemplateError("a template name must be a string, got %s" % object_type_repr(name))
        return self.engine.get_template(name)

    @staticmethod
    def run(template, ctx, out):
        """Render ``template`` into ``out`` with its own block table."""
        blocks = {name: [func] for name, func in template.blocks.items()}
        template.root(ctx, out, blocks)

    def include(self, name, ctx, out, ignore_missing, parent):
        """``{% include %}``: render the template into the including template's output."""
        try:
            template = self.load(name, parent)
        except TemplateNotFound:
            if ignore_missing:
                return
            raise
        self.run(template, ctx, out)

    def import_(self, name, ctx, parent):
        """``{% import %}``: run a template and return its exported macros and variables."""
        template = self.load(name, parent)
        if ctx is None:
            module = template.module_cache
            if module is None:
                module = template.module_cache = self.make_module(template, self.new_context())
            return module
        return self.make_module(template, ctx)

    def make_module(self, template, ctx):
        out = []
        self.run(template, ctx, out)
        exported = {name: ctx[name] for name in template.exported if name in ctx}
        return TemplateModule(template, exported, "".join(out))

    def imported(self, module, name):
        """``{% from x import name %}``: the value, or an undefined naming what is missing."""
        value = module.__dict__.get(name, MISSING)
        if value is MISSING:
            return self._not_exported(module, name)
        return value

    def _not_exported(self, module, name):
        return self.undefined(name, hint="the template %r does not export the requested name %r"
                              % (getattr(module, "_template_name", "?"), name))

    @staticmethod
    def extended_twice(name):
        raise TemplateError("template %r extends more than one template" % name)

    @staticmethod
    def extend(parent, ctx, out, blocks):
        """Finish a child template: add the parent's blocks below the child's and render it."""
        for name, func in parent.blocks.items():
            stack = blocks.get(name)
            if stack is None:
                blocks[name] = [func]
            else:
                stack.append(func)
        parent.root(ctx, out, blocks)

    @staticmethod
    def super_(ctx, blocks, name, current):
        """``super()``: render the next block up the inheritance chain."""
        stack = blocks[name]
        try:
            index = stack.index(current)
            func = stack[index + 1]
        except (ValueError, IndexError):
            raise UndefinedError("there is no parent block called %r" % name) from None
        out = []
        func(ctx, out, blocks)
        return Markup("".join(out))

    @staticmethod
    def template_ref(ctx, blocks):
        return TemplateReference(ctx, blocks)

    @staticmethod
    def required_block(name, template):
        raise TemplateError("required block %r of %r was not overridden" % (name, template))

    @staticmethod
    def too_many_args(label, count):
        raise TypeError("%s takes not more than %d argument(s)" % (label, count))

    @staticmethod
    def unexpected_kwarg(label, kwargs):
        raise TypeError("%s takes no keyword argument %r" % (label, next(iter(kwargs))))

    @staticmethod
    def unexpected_caller(label):
        raise TypeError("%s was called from a {%% call %%} block but never uses caller()" % label)

    @staticmethod
    def bind_args(label, names, args, kwargs):
        """Bind a macro call by hand when the macro's argument names cannot be Python's."""
        values = list(args[:len(names)]) + [MISSING] * max(0, len(names) - len(args))
        extra = tuple(args[len(names):])
        kwargs = dict(kwargs)
        caller = kwargs.pop("caller", MISSING)
        for i, name in enumerate(names):
            if name in kwargs:
                if values[i] is not MISSING:
                    raise TypeError("%s got multiple values for argument %r" % (label, name))
                values[i] = kwargs.pop(name)
        return values, extra, caller, kwargs

    # used by map/select/reject and friends
    def call_filter(self, name, value, args, kwargs, autoescape):
        func = self.engine.filters.get(name)
        if func is None:
            raise TemplateError("no filter named %r" % name)
        if getattr(func, "covet_special", False):
            return func(self, autoescape, value, *args, **kwargs)
        return func(value, *args, **kwargs)

    def call_test(self, name, value, args, kwargs):
        func = self.engine.tests.get(name)
        if func is None:
            raise TemplateError("no test named %r" % name)
        return func(value, *args, **kwargs)

    def attribute_path(self, attribute, default=None, postprocess=None):
        """A getter for ``"a.b.0"`` paths (filters' ``attribute=``), private names refused."""
        if attribute is None:
            parts = []
        elif isinstance(attribute, str):
            parts = [int(p) if p.isdigit() else p for p in attribute.split(".")]
        else:
            parts = [attribute]
        getitem = self.getitem
        undefined = Undefined

        def getter(item):
            for part in parts:
                item = getitem(item, part)
                if default is not None and isinstance(item, undefined):
                    item = default
            if postprocess is not None:
                item = postprocess(item)
            return item
        return getter
