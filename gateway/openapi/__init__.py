"""The OpenAPI document: the shapes of every public endpoint (``models``), the registry of operations
(``operations``, the one place a front door adds itself) and the builder that turns it into ``/openapi.json``
(``document``)."""
