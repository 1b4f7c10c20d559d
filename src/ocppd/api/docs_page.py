"""The interactive docs at /api/v1/docs: Swagger UI 5 (it renders OpenAPI 3.1) from the static
files of the `swagger-ui-py` package, served under /api/v1/docs/assets/, so the page works
where the server has no internet and loads nothing from a CDN. The page shows the document
`/api/v1/openapi.json` serves (`openapi.served_document`).
"""

import importlib.util
from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from ocppd.api.openapi import served_document

ASSETS = "/assets"


def assets_directory() -> Path:
    """Swagger UI's files in the installed `swagger_ui` package (found without importing it:
    its modules are integrations with other web frameworks)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is missing: reinstall ocppd")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


class SwaggerPage(SwaggerRenderPlugin):
    def __init__(self, docs_path: str) -> None:
        assets = docs_path + ASSETS
        super().__init__(
            js_url=f"{assets}/swagger-ui-bundle.js",
            css_url=f"{assets}/swagger-ui.css",
            standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, served_document(request))

    def receive_router(self, router: Router) -> None:
        super().receive_router(router)
        router.register(
            create_static_files_router(
                ASSETS, directories=[assets_directory()], name="swagger-ui-assets"
            )
        )
