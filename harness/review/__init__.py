"""`harness review`: guards plus a skeptical reviewer over a pull request, for CI.

``model`` is the report every output format renders; ``formats`` renders it (text, markdown,
json, sarif, github); ``github`` posts it idempotently; ``runner`` produces it.
"""
