"""The OpenAPI document: valid OpenAPI 3.1, and every route it lists is served."""

from typing import Any

import httpx2
from openapi_spec_validator import validate

import labthings_async as lt
from labthings_async.examples.microscope import Microscope


async def test_openapi_document_is_valid_and_matches_the_app(serve_things: Any) -> None:
    root = await serve_things(lt.ThingServer({"microscope": Microscope()}))
    async with httpx2.AsyncClient(timeout=10) as http:
        document = (await http.get(f"{root}/openapi.json")).json()
        validate(document)
        assert document["openapi"] == "3.1.0"
        assert document["servers"] == [{"url": root}]
        schemas = document["components"]["schemas"]
        assert {"InvocationResponse", "ProblemDetails", "Position"} <= schemas.keys()

        finished = await http.post(
            f"{root}/microscope/capture", json={}, headers={"Prefer": "wait=5"}
        )
        invocation_id = finished.json()["id"]
        checked = 0
        for template, item in document["paths"].items():
            path = template.replace("{id}", invocation_id)
            for method, operation in item.items():
                if method == "parameters":
                    continue
                is_stream = "text/event-stream" in str(operation["responses"].get("200", ""))
                if is_stream:
                    response = await http.head(root + path)
                elif method == "put":
                    current = await http.get(root + path)
                    response = await http.put(
                        root + path,
                        content=current.content,
                        headers={"content-type": "application/json"},
                    )
                elif method == "post":
                    response = await http.post(root + path, json={})
                else:
                    response = await http.request(method.upper(), root + path)
                assert str(response.status_code) in operation["responses"], (
                    method,
                    path,
                    response.status_code,
                    response.text[:200],
                )
                checked += 1
        assert checked >= 20
