from odwrap.cli import entrypoint

entrypoint()
