"""OpenAPI: the document an app describes itself with, and the /docs page that shows it.

``build_openapi`` (``document.py``) turns what registration knows into an OpenAPI 3.1 document;
``serve_docs`` (``docs.py``) answers the document's URL, the page and the page's own files
(``assets/``: its script, style sheet and HTML, no framework and no build step).
"""
from .docs import DOCS_OPTIONS, check_docs_options, serve_docs
from .document import build_openapi

__all__ = ["build_openapi", "serve_docs", "check_docs_options", "DOCS_OPTIONS"]
