"""Model fields shared by the apps."""

from __future__ import annotations

import json
from typing import Any

from django.db import models


class OrderedJSONField(models.JSONField):
    """JSON kept in the order it was written, on PostgreSQL too.

    PostgreSQL's jsonb (what JSONField uses there) sorts object keys; its json type keeps the
    text as given. Order is meaning here: the properties of a tool's or a response format's
    schema are the order the model writes them in (vLLM's guided decoding follows it) and the
    order a person defined them in. Such fields are read and written whole, never queried into.
    """

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)
        from psycopg.types.json import Json  # psycopg is there when PostgreSQL is

        if not prepared:
            value = self.get_prep_value(value)
        # Sent as json, not Django's jsonb, which would sort the keys before they are stored.
        return Json(value, dumps=lambda data: json.dumps(data, cls=self.encoder))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        # psycopg parses the json type itself (in order); Django's loader expects text.
        if value is not None and not isinstance(value, str | bytes):
            return value
        return super().from_db_value(value, expression, connection)
