"""A small downstream project written from the docs: correct code in every shape the plugin reads.

``tests/mypy_plugin/test_downstream.py`` type-checks it with the plugin (``mypy --strict``, no
plugin error allowed) and runs every workflow it builds (so the code really is correct: a
plugin error here would be a false positive). The planted mistakes live in
``tests/typesafety/test_planted.yml``.
"""
