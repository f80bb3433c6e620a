"""Errors raised by the templates package: ``ValueError`` subclasses the gateway maps to HTTP errors."""

from __future__ import annotations


class TemplatesError(ValueError):
    """Base class of every error raised by ``templates``."""


class UnknownFamilyError(TemplatesError):
    """A family name that is not registered; the message lists the known ones."""


class DuplicateFamilyError(TemplatesError):
    """``register`` was asked to add a family under a name that is already taken."""


class InvalidEffortError(TemplatesError):
    """An effort string outside the scale ``none … max``."""


class UnsupportedEffortError(TemplatesError):
    """The family cannot express the requested effort (e.g. thinking on an instruct-only model).

    The router must send such requests to another backend; the templates package never silently degrades.
    """


class UnsupportedBackendError(TemplatesError):
    """The backend's vLLM version cannot serve the family's mechanism (e.g. gpt-oss before 0.10.1)."""


class InvalidRequestError(TemplatesError):
    """The client's chat-completions body has a shape the family adapter cannot rewrite."""


class TemplateRenderError(TemplatesError):
    """A chat template failed to compile or render."""
