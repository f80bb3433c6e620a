"""ASGI entry for uvicorn workers: ``uvicorn --factory gateway.asgi:app_from_env``."""

from __future__ import annotations

from fastapi import FastAPI

from gateway.app import create_app
from gateway.settings import Settings


def app_from_env() -> FastAPI:
    return create_app(Settings())
