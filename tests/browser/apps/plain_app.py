"""A test app for tests/browser/test_docs_page.py: two routes, one with a very long path. ``app`` has
its OpenAPI document; ``no_document`` has it turned off (``openapi_url=None``), its /docs page stays."""
from covet import Covet


def create_app(**options) -> Covet:
    app = Covet(title="plain", **options)

    @app.get("/hello/{name}")
    async def hello(name: str):
        """Say hello."""
        return {"hello": name}

    # A path longer than a phone is wide: the page wraps it.
    @app.get("/organisations/{organisation_id}/projects/{project_id}/environments/{environment_name}/deployments")
    async def list_deployments(organisation_id: int, project_id: int, environment_name: str):
        """Deployments of one environment."""
        return []

    return app


app = create_app()
no_document = create_app(openapi_url=None)
