"""The OpenAPI document: valid OpenAPI 3.1, and every route it lists is served (in-process)."""

from inprocess import in_process
from openapi_spec_validator import validate

import labthings_async as lt
from labthings_async.examples.microscope import Microscope


def test_openapi_document_is_valid_and_matches_the_app() -> None:
    with in_process(lt.ThingServer({"microscope": Microscope()}).app) as http:
        document = http.get("/openapi.json").json()
        validate(document)
        assert document["openapi"] == "3.1.0"
        assert document["servers"] == [{"url": "http://testserver"}]
        schemas = document["components"]["schemas"]
        assert {"InvocationResponse", "ProblemDetails", "Position"} <= schemas.keys()

        finished = http.post("/microscope/capture", json={}, headers={"Prefer": "wait=5"})
        invocation_id = finished.json()["id"]
        checked = 0
        for template, item in document["paths"].items():
            path = template.replace("{id}", invocation_id)
            for method, operation in item.items():
                if method == "parameters":
                    continue
                is_stream = "text/event-stream" in str(operation["responses"].get("200", ""))
                if is_stream:
                    response = http.head(path)
                elif method == "put":
                    current = http.get(path)
                    response = http.put(
                        path,
                        content=current.content,
                        headers={"content-type": "application/json"},
                    )
                elif method == "post":
                    response = http.post(path, json={})
                else:
                    response = http.request(method.upper(), path)
                assert str(response.status_code) in operation["responses"], (
                    method,
                    path,
                    response.status_code,
                    response.text[:200],
                )
                checked += 1
        assert checked >= 20
