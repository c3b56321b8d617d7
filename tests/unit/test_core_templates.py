"""The one template language: grammar, sources a service declares, missing values, rendering modes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson
import pytest

from hookgate.core.jsonpath import JsonPath
from hookgate.core.templates import (
    ABSENT,
    FormTemplate,
    JsonTemplate,
    Lookup,
    Scope,
    Sources,
    Template,
    TemplateError,
    header_escape,
    url_escape,
)

Ctx = dict[str, Any]


def _key(name: str) -> Lookup[Ctx]:
    return lambda ctx: ctx.get(name, ABSENT)


def _path(path: JsonPath) -> Lookup[Ctx]:
    def lookup(ctx: Ctx) -> Any:
        nodes = path.find(ctx.get("doc"))
        return nodes[0] if nodes else ABSENT

    return lookup


STRICT: Sources[Ctx] = Sources(names={"who": _key("who")}, scopes={"v": Scope(_key)}, jsonpath=_path)
LENIENT: Sources[Ctx] = Sources(names={"who": _key("who")}, scopes={"v": Scope(_key)}, missing="empty")
CTX: Ctx = {"who": "ana", "x": "1", "empty": "", "doc": {"a": {"b": 2}, "s": "t"}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("plain", "plain"),
        ("{who}", "ana"),
        ("{ who }", "ana"),
        ("hi {who}, x={v.x}", "hi ana, x=1"),
        ("{{literal}} {who}}}", "{literal} ana}"),
        ("{v.nope|default:none}", "none"),
        ("{v.nope|default:}", ""),
        ("{v.nope|default:a|b:c}", "a|b:c"),  # the default is the text after default:, as written
        ("{v.nope | default: spaced}", " spaced"),
        ("{v.empty|default:d}", ""),  # empty is a value here; sources decide what has none
        ("{$.a.b}/{$.s}", "2/t"),
        ("{who}{v.x}", "ana1"),
    ],
)
def test_render(text: str, expected: str) -> None:
    assert Template(text, STRICT).render(CTX) == expected


def test_parts_and_placeholders() -> None:
    t = Template("a.{v.x}.{who|default:d}{$.a}", STRICT)
    assert [p if isinstance(p, str) else p.source for p in t.parts] == ["a.", "v.x", ".", "who", "$.a"]
    assert [(p.scope, p.name, p.default) for p in t.placeholders] == [
        ("v", "x", None),
        ("who", None, "d"),
        ("$", "$.a", None),
    ]
    assert t.literal_prefix == "a."


def test_the_old_gateway_default_form_is_an_error_that_says_how_to_write_it() -> None:
    with pytest.raises(TemplateError) as err:
        Template("com.github.{v.action|none}", STRICT)
    assert str(err.value) == "placeholder {v.action|none} at character 11: a default is written {v.action|default:none}"
    with pytest.raises(TemplateError, match=r"a default is written \{SOURCE\|default:TEXT\}"):
        Template("Bearer tok{v.a|x}", STRICT, reveal=False)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{nope}", "unknown placeholder {nope} at character 0; expected one of who, v.NAME, $JSONPATH"),
        ("{v.}", "unknown placeholder {v.}"),
        ("{v}", "unknown placeholder {v}"),
        ("{v.a b}", "unknown placeholder {v.a b}"),
        ("{}", "unknown placeholder {}"),
        ("{$.[[}", "placeholder {$.[[} at character 0: not a valid JSONPath"),
        ("open {", "unmatched '{' at character 5 (write {{ for a literal brace)"),
        ("close }", "unmatched '}' at character 6 (write }} for a literal brace)"),
        ("{a{b}", "unmatched '{' at character 0"),
    ],
)
def test_syntax_errors(text: str, words: str) -> None:
    with pytest.raises(TemplateError) as err:
        Template(text, STRICT)
    assert words in str(err.value)


def test_hidden_templates_keep_their_text_out_of_errors() -> None:
    with pytest.raises(TemplateError) as err:
        Template("Bearer s3cr3t{oops}", STRICT, reveal=False)
    assert "s3cr3t" not in str(err.value)
    assert "oops" not in str(err.value)


def test_a_service_chooses_what_a_missing_value_gives() -> None:
    with pytest.raises(TemplateError, match=r"\{v.nope\} has no value for this event"):
        Template("x={v.nope}", STRICT).render(CTX)
    assert Template("x={v.nope}", LENIENT).render(CTX) == "x="
    assert Template("x={v.nope|default:d}", LENIENT).render(CTX) == "x=d"
    with pytest.raises(TemplateError, match="unknown placeholder"):
        Template("{$.a}", LENIENT)  # this service offers no JSONPath source


def test_nothing_is_evaluated() -> None:
    assert Template("{v.t}", STRICT).render({"t": "{who}"}) == "{who}"


def test_rendering_modes() -> None:
    ctx: Ctx = {"p": "../a b&c=d#e", "line": "a\r\nX-Injected: 1", "n": 3, "obj": {"k": [1, True]}, "who": 'Zoë "z"'}
    assert Template("/r/{v.p}", STRICT).render(ctx, url_escape) == "/r/..%2Fa%20b%26c%3Dd%23e"
    assert url_escape(12) == "12"
    assert Template("{v.n}/{v.obj}", STRICT).render(ctx) == '3/{"k":[1,true]}'
    with pytest.raises(TemplateError, match="line break"):
        Template("{v.line}", STRICT).render(ctx, header_escape)
    assert header_escape("ok") == "ok"
    form = FormTemplate.parse({"A": "{v.p}", "B": "x {who}"}, STRICT)
    assert parse_qs(form.render(ctx)) == {"A": ["../a b&c=d#e"], "B": ['x Zoë "z"']}
    assert [p.source for p in form.placeholders] == ["v.p", "who"]
    body = JsonTemplate.parse({"n": "{v.n}", "text": "n={v.n} by {who}", "obj": "{v.obj}", "keep": [1, None]}, STRICT)
    assert orjson.loads(body.render_bytes(ctx)) == {
        "n": 3,  # exactly one placeholder: the value's own JSON type
        "text": 'n=3 by Zoë "z"',
        "obj": {"k": [1, True]},
        "keep": [1, None],
    }


def test_mode_errors_name_where() -> None:
    with pytest.raises(TemplateError, match=r"^\$\.a\[1\]: unknown placeholder \{bad\}"):
        JsonTemplate.parse({"a": ["ok", "{bad}"]}, STRICT)
    with pytest.raises(TemplateError, match=r"^F: unknown placeholder"):
        FormTemplate.parse({"F": "{bad}"}, STRICT)
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(TemplateError, match=r"\{v.deep\}: a selected value cannot be written"):
        Template("{v.deep}", STRICT).render({"deep": deep})
    with pytest.raises(TemplateError, match="the JSON body cannot be encoded"):
        JsonTemplate.parse({"d": "{v.deep}"}, STRICT).render_bytes({"deep": deep})
