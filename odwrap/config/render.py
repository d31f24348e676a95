"""Render the Jinja templates under templates/ into pipeline.config text.

One environment, built here: sandboxed, StrictUndefined, no autoescape (the output is proto
text, whose values odwrap/context.py already escaped). Template errors name template and line.
"""

from importlib import resources

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from odwrap.errors import TemplateError


def environment(folder=None) -> SandboxedEnvironment:
    folder = folder or resources.files("odwrap.templates")
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _template_frame(exc: BaseException) -> str:
    """'template.j2:LINE' of the innermost template frame of a traceback."""
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            where = f"{filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where or "template"


def render_template(name: str, values: dict, folder=None) -> str:
    """Render template `name` from `folder` (default: odwrap's templates/)."""
    try:
        return environment(folder).get_template(name).render(**values)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.name or name}:{exc.lineno}: template syntax error: "
                            f"{exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template not found: {exc.name}") from None
    except (jinja2.UndefinedError, jinja2.exceptions.SecurityError, TypeError) as exc:
        raise TemplateError(f"{_template_frame(exc)}: {exc}") from None


def render_pipeline(values: dict) -> str:
    return render_template("pipeline.config.j2", values)
