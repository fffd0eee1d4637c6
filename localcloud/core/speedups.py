"""Work that moto and botocore repeat on every call for the same answer, done once per process.

Profiled over the e2e and local-cloud tests, three such costs were a tenth of the run:

- moto's KMS makes a 2048-bit RSA key for every key it creates (30 to 50 ms each), symmetric keys
  included, although only asymmetric keys ever use it. Every encrypted table, topic and queue of
  every cloud paid it. Symmetric and HMAC keys now share one; asymmetric keys still get their own.
- moto lists its response class's methods with :func:`inspect.getmembers` for every request, to
  check the action is one of them; the list of a class's methods does not change.
- botocore rebuilds the ``User-Agent`` header twice per request, sanitizing each component
  character by character; the same few strings come back every time.
- botocore translates each event name through its aliases in a cache per emitter; moto makes a
  session per cloud and handlers a client per cold start, each client with a copy of the
  session's emitter and an empty cache, so the cache was nearly always cold.
- Every cold start imports the function's modules again (that is what a cold start is), and where
  no bytecode is written beside them (``PYTHONDONTWRITEBYTECODE``, a read-only checkout) Python
  compiled each source again: a third of a second per e2e file. The code object compiled from a
  file's exact bytes is kept and executed again into each fresh module; a file whose bytes changed
  is compiled anew.
- moto writes every response through a serializer that looks each member of each structure up in
  the answer by several candidate names (the member's, its snake_case form, its wire name, the
  name without its structure's prefix), asking one alias rule object after another per member:
  a DynamoDB item's attribute values (ten members each, mostly absent) were a tenth of a served
  request's DynamoDB calls. Where the answer is a plain ``dict``, the candidates depend only on the
  member's shape and name, so they are worked out once per shape; the first one present wins, as
  before. Any other object (model classes, with their own aliases) goes the original way.
- freezegun, at every clock start, fingerprints each loaded module by the set of its attribute
  names, through ``dir()``, which builds and sorts a list of them: thousands of modules per cloud
  start. A plain module's names are its ``__dict__``'s keys, so that set is made from them
  directly; a module with a ``__dir__`` of its own still goes through ``dir()``.
- moto turns each botocore request into a werkzeug request through ``Request.from_values``, whose
  ``EnvironBuilder`` builds a ``Headers`` list, copies it, searches and removes its content headers
  and works out the host, port and paths through properties. For what botocore sends (a bytes
  body or none, the path without a query, header values on one line) the same WSGI environ is now
  built directly, key by key in the builder's order, with the builder's own encoding functions
  (moto's request for a DynamoDB call in 0.058 ms instead of 0.094); anything else still goes
  through the builder.

- botocore reads a request's body for its signature through ``AWSRequest.body``, which prepares the
  whole request (the URL, and a copy of every header through ``email.message``) and keeps only the
  body. The body alone is now prepared, by the same preparer's own ``_prepare_body``.
- moto draws each answer's 52-character request id with one ``random.choice`` per character from
  its seeded generator. The same draws are now made in one call per round (the generator's 32-bit
  words, each kept where ``choice`` would keep it, by the same rejection rule), so the same seed
  still gives the same ids and leaves the generator in the same state.

Answers are unchanged: the same key material for encryption, the same dispatch, the same header,
the same request ids.
"""

from __future__ import annotations

import functools
import importlib.machinery
import io
import random
import string
import sys
import types
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import botocore.awsrequest
import botocore.hooks
import botocore.useragent
import freezegun.api
import moto.core.request
import moto.core.responses
import moto.core.serialize
import moto.kms.models
import moto.moto_api._internal.moto_random
import werkzeug.urls
from moto.core.utils import MISSING, get_value
from moto.kms.utils import KeySpec
from werkzeug._internal import _wsgi_encoding_dance

_ASYMMETRIC = {KeySpec.RSA_2048, KeySpec.RSA_3072, KeySpec.RSA_4096, KeySpec.SM2, *KeySpec.ecc_key_specs()}

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    generate = moto.kms.models.generate_private_key
    unused_by_symmetric_keys = functools.cache(lambda: generate("SYMMETRIC_DEFAULT"))

    def generate_private_key(key_spec: str) -> Any:
        return generate(key_spec) if key_spec in _ASYMMETRIC else unused_by_symmetric_keys()

    moto.kms.models.generate_private_key = generate_private_key
    method_names = functools.cache(moto.core.responses.method_names_from_class)
    moto.core.responses.method_names_from_class = lambda clazz: method_names(clazz)
    botocore.useragent.sanitize_user_agent_string_component = functools.lru_cache(maxsize=1024)(
        botocore.useragent.sanitize_user_agent_string_component
    )
    alias = botocore.hooks.EventAliaser._alias_event_name
    aliased: dict[str, str] = {}

    def alias_event_name(self: botocore.hooks.EventAliaser, event_name: str) -> str:
        if not _default_aliases(self):
            return alias(self, event_name)
        name = aliased.get(event_name)
        if name is None:
            name = aliased[event_name] = alias(self, event_name)
        return name

    botocore.hooks.EventAliaser._alias_event_name = alias_event_name
    _pick_dict_members_once()
    _compile_each_source_once()
    fingerprint = freezegun.api._get_module_attributes_hash

    def module_attributes_hash(module: Any) -> str:
        names = getattr(module, "__dict__", None)
        if type(module) is not types.ModuleType or not isinstance(names, dict) or "__dir__" in names:
            return fingerprint(module)
        return f"{id(module)}-{hash(frozenset(names))}"

    freezegun.api._get_module_attributes_hash = module_attributes_hash
    _build_request_environs_directly()
    _prepare_only_the_body_to_sign()
    _draw_random_strings_at_once()


def _prepare_only_the_body_to_sign() -> None:
    request_class = botocore.awsrequest.AWSRequest
    whole = request_class.body

    def body(self: botocore.awsrequest.AWSRequest) -> Any:
        preparer = self._request_preparer
        if type(preparer) is not botocore.awsrequest.AWSRequestPreparer:
            return whole.fget(self)  # type: ignore[attr-defined]
        prepared = preparer._prepare_body(self)
        return prepared.encode("utf-8") if isinstance(prepared, str) else prepared

    request_class.body = property(body)  # type: ignore[assignment,method-assign]


#: moto's own ``get_random_string``, one ``choice`` per character.
_ONE_BY_ONE = moto.moto_api._internal.moto_random.MotoRandom.get_random_string


def _draw_random_strings_at_once() -> None:
    random_class = moto.moto_api._internal.moto_random.MotoRandom
    one_by_one = _ONE_BY_ONE

    def get_random_string(
        self: random.Random, length: int = 20, include_digits: bool = True, lower_case: bool = False
    ) -> str:
        if type(self)._randbelow is not random.Random._randbelow_with_getrandbits:  # type: ignore[attr-defined]
            return one_by_one(self, length, include_digits, lower_case)
        pool = string.ascii_letters + (string.digits if include_digits else "")
        drawn = choices_as_choice_draws(self, pool, length)
        return drawn.lower() if lower_case else drawn

    random_class.get_random_string = get_random_string  # type: ignore[method-assign]


@functools.cache
def _keep_table(pool: str) -> tuple[bytes, bytes]:
    """For a word's top byte: the character of ``pool`` that ``random.choice`` keeps for it, and
    which bytes it rejects (draws again for): ``_randbelow`` keeps the word's top ``k`` bits, ``k``
    being the pool size's bit length, if they are below the pool size."""
    shift = 8 - len(pool).bit_length()
    table = bytes(ord(pool[top >> shift]) if top >> shift < len(pool) else 0 for top in range(256))
    rejected = bytes(top for top in range(256) if top >> shift >= len(pool))
    return table, rejected


def choices_as_choice_draws(generator: random.Random, pool: str, length: int) -> str:
    """``"".join(generator.choice(pool) for _ in range(length))`` for an ASCII pool of at most 128
    characters, drawing the same 32-bit words: ``getrandbits(32 * n)`` gives the next ``n`` words,
    least significant first, as ``n`` calls of ``getrandbits(k)`` would give their top bits. Each
    round draws only as many words as characters are missing, so it never draws past the last
    word ``choice`` would have drawn."""
    table, rejected = _keep_table(pool)
    drawn = b""
    while (missing := length - len(drawn)) > 0:
        words = generator.getrandbits(32 * missing).to_bytes(4 * missing, "little")
        drawn += words[3::4].translate(table, rejected)
    return drawn.decode("ascii")


def _pick_dict_members_once() -> None:
    picker = moto.core.serialize.XFormedAttributePicker
    pick = picker.__call__
    defaults = moto.core.serialize.DEFAULT_ALIAS_PROVIDERS
    #: (id of the member's shape, of its structure's shape, the member's name) -> the two shapes
    #: (so that the ids stay theirs) and the candidate names in the original order.
    candidates: dict[tuple[int, int, str], tuple[Any, Any, tuple[str, ...]]] = {}

    def call(self: Any, context: Any) -> Any:
        obj = context.obj
        if type(obj) is not dict or type(self) is not picker or self.alias_providers is not defaults:
            return pick(self, context)
        shape, key = context.shape, context.key
        parent = getattr(shape, "parent", None)
        found = candidates.get((id(shape), id(parent), key))
        if found is None or found[0] is not shape or found[1] is not parent:
            found = candidates[(id(shape), id(parent), key)] = (
                shape,
                parent,
                tuple(picker.get_possible_keys(self, context)),
            )
        value = None
        for name in found[2]:
            got = obj.get(name, MISSING) if "." not in name else get_value(obj, name, MISSING)
            if got is not MISSING:
                value = got
                break
        if self.response_transformers:
            key_path = f"{context.key_path}.{key}"
            for transform_path, transform in self.response_transformers.items():
                if key_path.endswith(transform_path):
                    return transform(value)
        return value

    picker.__call__ = call


def _compile_each_source_once() -> None:
    loader = importlib.machinery.SourceFileLoader
    compile_source = loader.source_to_code
    compiled: dict[str, tuple[bytes, Any]] = {}

    def source_to_code(self: Any, data: Any, path: Any, *, _optimize: int = -1) -> Any:
        if _optimize != -1 or not isinstance(path, str) or not isinstance(data, bytes):
            return compile_source(self, data, path, _optimize=_optimize)
        found = compiled.get(path)
        if found is not None and found[0] == data:
            return found[1]
        code = compile_source(self, data, path)
        compiled[path] = (data, code)
        return code

    loader.source_to_code = source_to_code  # type: ignore[method-assign]


#: What ``werkzeug.test.EnvironBuilder`` accepts from moto's ``Request.from_primitives``, the only
#: arguments the direct path handles.
_FROM_PRIMITIVES = frozenset({"method", "base_url", "path", "query_string", "data", "headers"})
#: The content types for which an empty body makes the builder encode a form: left to it.
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _build_request_environs_directly() -> None:
    request_class = moto.core.request.Request
    from_values = request_class.from_values.__func__  # type: ignore[attr-defined]

    @classmethod  # type: ignore[misc]
    def direct_from_values(cls: type, *args: Any, **kwargs: Any) -> Any:
        environ = None if args or kwargs.keys() != _FROM_PRIMITIVES else request_environ(**kwargs)
        return from_values(cls, *args, **kwargs) if environ is None else cls(environ)

    request_class.from_values = direct_from_values  # type: ignore[method-assign, assignment]


_iri_to_uri = functools.lru_cache(maxsize=1024)(werkzeug.urls.iri_to_uri)
"""``iri_to_uri`` depends on its argument alone; botocore sends a few base URLs and paths again and again."""


def request_environ(
    *, method: str, base_url: str, path: str, query_string: str, data: Any, headers: list[tuple[str, Any]]
) -> dict[str, Any] | None:
    """The environ ``EnvironBuilder(method=..., base_url=..., path=..., query_string=..., data=...,
    headers=...).get_environ()`` returns, the same keys inserted in the same order; None where this
    does not know the builder's answer (it then builds it)."""
    if not isinstance(data, bytes) or "?" in path or not isinstance(query_string, str):
        return None
    content_type = None
    for key, value in headers:
        if not isinstance(key, str) or not isinstance(value, str) or "\r" in value or "\n" in value:
            return None
        if content_type is None and key.lower() == "content-type":
            content_type = value
    # The builder drops a Content-Length header (its own is None) and counts the body.
    if data:
        stream, length = io.BytesIO(data), str(len(data))
    elif content_type is not None and content_type.partition(";")[0].strip() in _FORM_TYPES:
        return None
    else:
        stream, length = io.BytesIO(), None
    scheme, host, script_root, query, fragment = urlsplit(_iri_to_uri(base_url))
    if query or fragment:
        return None
    script_root = script_root.rstrip("/")
    server_name, colon, port = host.partition(":")
    if colon and not (port.isascii() and port.isdigit()):
        return None
    server_port = str(int(port)) if colon else "443" if scheme == "https" else "80"
    raw_uri = _wsgi_encoding_dance(path)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": _wsgi_encoding_dance(unquote(script_root)),
        "PATH_INFO": _wsgi_encoding_dance(unquote(_iri_to_uri(urlsplit(path).path))),
        "QUERY_STRING": _wsgi_encoding_dance(query_string),
        "REQUEST_URI": raw_uri,
        "RAW_URI": raw_uri,
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "HTTP_HOST": host,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": stream,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    combined: dict[str, list[str]] = {}
    for key, value in headers:
        if key.lower() not in ("content-type", "content-length"):
            combined.setdefault(f"HTTP_{key.upper().replace('-', '_')}", []).append(value)
    for key, values in combined.items():
        environ[key] = ", ".join(values)
    return environ


_environ_seen: tuple[dict[Any, Any], dict[str, str]] | None = None


def environ_copy(environ: Mapping[str, str]) -> dict[str, str]:
    """``dict(environ)``, decoded once per content: copying ``os.environ`` decodes every name and
    value, and Lambda's invoker copies it for every invocation. The raw bytes are compared with the
    ones last decoded (a C-level dict comparison), so any change to the environment is seen."""
    global _environ_seen
    raw = getattr(environ, "_data", None)
    if not isinstance(raw, dict):
        return dict(environ)
    if _environ_seen is not None and _environ_seen[0] == raw:
        return dict(_environ_seen[1])
    decoded = dict(environ)
    _environ_seen = (dict(raw), decoded)
    return dict(decoded)


def _default_aliases(aliaser: botocore.hooks.EventAliaser) -> bool:
    """Whether ``aliaser`` translates by botocore's own aliases: a session's holds them, and each
    client's emitter a copy of them, made when the client was (botocore never edits either)."""
    default = aliaser.__dict__.get("_localcloud_default_aliases")
    if default is None:
        aliases = aliaser._event_aliases
        default = aliases is botocore.hooks.EVENT_ALIASES or aliases == botocore.hooks.EVENT_ALIASES
        aliaser._localcloud_default_aliases = default  # type: ignore[attr-defined]
    return default
