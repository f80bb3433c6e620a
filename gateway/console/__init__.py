"""The operator console at ``/console``: try a request, tune thresholds on labelled data, watch the gateway.

The page is static ES modules and SVG shipped as package data (``static/``); its data comes from the JSON
endpoints under ``/console/api/`` (admin token) and the admin API. Off (404) when no admin token is set.
"""

from __future__ import annotations

from fastapi import FastAPI

from gateway.console import pages, preview, tune, watch
from gateway.console.tune import DatasetStore


def install(app: FastAPI) -> None:
    """Register the console's routes and its in-memory store of uploaded datasets on ``app``."""
    app.state.console_datasets = DatasetStore()
    for module in (pages, preview, tune, watch):
        app.include_router(module.router)
