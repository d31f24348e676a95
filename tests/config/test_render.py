import pytest

from odwrap.config.context import proto_value
from odwrap.config.render import TemplateError, render_template


def test_undefined_variable_names_template_and_line(tmp_path):
    (tmp_path / "t.j2").write_text("model {\n  num_classes: {{ num_clases }}\n}\n")
    with pytest.raises(TemplateError, match=r"t\.j2:2: 'num_clases' is undefined"):
        render_template("t.j2", {"num_classes": 3}, folder=tmp_path)


def test_syntax_error_names_template_and_line(tmp_path):
    (tmp_path / "t.j2").write_text("a\n{% if x %}\nb\n")
    with pytest.raises(TemplateError, match=r"t\.j2:3: template syntax error"):
        render_template("t.j2", {"x": 1}, folder=tmp_path)


def test_templates_are_sandboxed(tmp_path):
    (tmp_path / "t.j2").write_text("{{ x.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateError, match="unsafe"):
        render_template("t.j2", {"x": ""}, folder=tmp_path)


@pytest.mark.parametrize("value, text", [
    (True, "true"), (False, "false"), (3, "3"), (4e-05, "4e-05"), ("a", '"a"'),
    ('x" } evil { "', r'"x\" } evil { \""'), ("line\nbreak", r'"line\nbreak"'),
])
def test_proto_values(value, text):
    assert proto_value(value) == text
