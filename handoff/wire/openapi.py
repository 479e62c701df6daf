"""OpenAPI 3.1 documents assembled from the wire's models: each route is an `Operation` naming its
body, query and reply models; the schemas are pydantic's JSON Schema of those models
(`models_json_schema`), put under ``components/schemas``. A limit that follows the settings (a schema
with `SETTING`) gets the server's own value from ``limits``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from handoff.wire.fields import SETTING
from handoff.wire.refusals import QUERY_SUFFIX
from handoff.wire.replies import ErrorReply

REF = "#/components/schemas/{model}"
ERRORS = {
    400: "`invalid_payload` or `message_too_long`: the body or a parameter is not as described",
    401: "`unauthorized`: no valid token",
    403: "`forbidden`: the token does not open this",
    404: "`not_found`: no such thing",
    409: "`conflict`: not in a state that allows this",
    429: "`rate_limited`: past a limit (docs/settings.md, \"Limits\"); `retry_after` and the Retry-After header "
         "say the seconds to wait",
}


class WireJsonSchema(GenerateJsonSchema):
    """pydantic's JSON Schema without a title on every field (the models' names stay, as the components')."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


@dataclasses.dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    reply: type[BaseModel] | dict[str, Any]  # a model, or a JSON schema of its own
    reply_description: str
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: Mapping[int, str] = dataclasses.field(default_factory=dict)  # status -> what it means here
    security: str | None = None  # the name of the security scheme the call needs


def _set_limits(node: Any, limits: Mapping[str, int]) -> None:
    if isinstance(node, dict):
        setting = node.pop(SETTING, None)
        if setting is not None:
            node["maxLength"] = limits[setting]
        for value in node.values():
            _set_limits(value, limits)
    elif isinstance(node, list):
        for value in node:
            _set_limits(value, limits)


def _json(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": dict(schema)}}}


def schemas(models: Sequence[tuple[type[BaseModel], JsonSchemaMode]]) -> tuple[dict[Any, Any], dict[str, Any]]:
    """The models' schemas: a ``$ref`` for each (model, mode) and the components they refer to."""
    refs, top = models_json_schema(models, ref_template=REF, schema_generator=WireJsonSchema)
    return refs, top.get("$defs", {})


def document(info: Mapping[str, Any], operations: Sequence[Operation], *, path_parameters: Mapping[str, Any],
             security_schemes: Mapping[str, Any], limits: Mapping[str, int]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``; ``path_parameters``: the schema of each ``{name}`` of
    their paths."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorReply, "serialization")]
    for op in operations:
        models += [(op.body, "validation")] if op.body else []
        models += [(op.query, "validation")] if op.query else []
        models += [(op.reply, "serialization")] if isinstance(op.reply, type) else []
    refs, components = schemas(list(dict.fromkeys(models)))
    error = _json(refs[(ErrorReply, "serialization")])
    paths: dict[str, Any] = {}
    for op in operations:
        item: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary}
        parameters = [{"name": name, "in": "path", "required": True, "schema": schema}
                      for name, schema in path_parameters.items() if f"{{{name}}}" in op.path]
        if op.query:
            assert op.query.__name__.endswith(QUERY_SUFFIX), op.query  # so its unknown fields are "parameters"
            query = op.query.model_json_schema(schema_generator=WireJsonSchema)
            for name, schema in query["properties"].items():
                description = schema.pop("description", None)
                parameters.append({"name": name, "in": "query", "required": name in query.get("required", ()),
                                   **({"description": description} if description else {}), "schema": schema})
        if parameters:
            item["parameters"] = parameters
        if op.security:
            item["security"] = [{op.security: []}]
        if op.body:
            item["requestBody"] = {"required": True, **_json(refs[(op.body, "validation")])}
        reply = refs[(op.reply, "serialization")] if isinstance(op.reply, type) else op.reply
        item["responses"] = {str(op.status): {"description": op.reply_description, **_json(reply)}}
        for status, description in sorted(op.errors.items()):
            item["responses"][str(status)] = {"description": description or ERRORS[status], **error}
        paths.setdefault(op.path, {})[op.method.lower()] = item
    doc = {
        "openapi": "3.1.0",
        "info": dict(info),
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"securitySchemes": dict(security_schemes), "schemas": components},
    }
    _set_limits(doc, limits)
    return doc
