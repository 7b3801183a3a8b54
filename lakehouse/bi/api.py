"""A small client of Superset's REST API: log in, list assets, run a chart's saved data query."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from lakehouse.errors import UserError


@dataclass
class ChartData:
    chart_id: int
    name: str
    viz_type: str
    status: int
    rows: int
    error: str | None
    seconds: float


class SupersetApi:
    def __init__(self, base_url: str, user: str, password: str):
        self.base_url = base_url.rstrip("/")
        status, body = self._call(
            "POST",
            "/api/v1/security/login",
            {"username": user, "password": password, "provider": "db", "refresh": False},
        )
        if status != 200:
            raise UserError(f"Superset at {self.base_url} refused the login of {user!r} ({status}): {body}")
        self._token = body["access_token"]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.base_url + path, method=method)
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        if getattr(self, "_token", None):
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            try:
                return exc.code, json.loads(text)
            except json.JSONDecodeError:
                return exc.code, text

    def get(self, path: str) -> Any:
        status, body = self._call("GET", path)
        if status != 200:
            raise UserError(f"GET {path} answered {status}: {body}")
        return body

    def list(self, resource: str, columns: list[str]) -> list[dict[str, Any]]:
        """Every row of a resource (chart, dashboard, dataset, database), with the given columns."""
        rows: list[dict[str, Any]] = []
        page = 0
        while True:
            query = f"(columns:!({','.join(columns)}),page:{page},page_size:100)"
            body = self.get(f"/api/v1/{resource}/?q={urllib.parse.quote(query)}")
            rows += body["result"]
            if len(rows) >= body["count"] or not body["result"]:
                return rows
            page += 1

    def chart_data(self, chart: dict[str, Any], force: bool = False) -> ChartData:
        """Run a chart's saved query context through the chart-data API (`force`: past Superset's result cache)."""
        clock = time.perf_counter()
        status, body = self._call("GET", f"/api/v1/chart/{chart['id']}/data/" + ("?force=true" if force else ""))
        seconds = time.perf_counter() - clock
        error, rows = None, 0
        if status != 200:
            error = json.dumps(body)[:500] if not isinstance(body, str) else body[:500]
        else:
            results = body.get("result", [])
            error = next((r.get("error") for r in results if r.get("error")), None)
            rows = sum(r.get("rowcount", 0) for r in results)
        return ChartData(chart["id"], chart["slice_name"], chart["viz_type"], status, rows, error, seconds)
