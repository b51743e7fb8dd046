"""RefNet's users, for Locust: `python -m benchmarks.load_test` runs them (see its docstring).

- `SeedScenario`: a user signs in, then searches papers, reads paper details and asks for
  summaries, in the proportions 3:2:1.
- `Researcher`: a read-heavy session: a search, then the detail, the citation graph and the
  vault note of a paper it found.

Both sign in once (`/auth/login`) and send the access token on every request. Answers are
checked, not only their status: a search must list papers, a detail must be the paper asked for,
a summary request must be accepted (202). What to ask for comes from a sample of the loaded data
(`REFNET_LOAD_SAMPLE`, JSON written by the runner); the user signs in as `REFNET_LOAD_USERNAME`
with `REFNET_LOAD_PASSWORD` and verifies the server's certificate with `REFNET_LOAD_CA` (a PEM
file; unset: the system's authorities).
"""

from __future__ import annotations

import json
import os
import random
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gevent.ssl
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

# Short pauses between a user's requests: the profiles' user counts are then enough for the
# request rates the service levels ask for, and the run is not one long burst either.
THINK_SECONDS = (0.02, 0.1)


@cache
def sample() -> dict[str, list[str]]:
    loaded: dict[str, list[str]] = json.loads(Path(os.environ["REFNET_LOAD_SAMPLE"]).read_text())
    return loaded


def tls_context() -> gevent.ssl.SSLContext:
    return gevent.ssl.create_default_context(cafile=os.environ.get("REFNET_LOAD_CA") or None)


class SignedInUser(FastHttpUser):
    abstract = True
    wait_time = between(*THINK_SECONDS)
    insecure = False
    ssl_context_factory = staticmethod(tls_context)

    def on_start(self) -> None:
        credentials = {
            "username": os.environ["REFNET_LOAD_USERNAME"],
            "password": os.environ["REFNET_LOAD_PASSWORD"],
        }
        with self.client.post("/auth/login", json=credentials, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"sign-in refused: {answer.status_code} {answer.text[:200]}")
                self.stop()
                return
            token = answer.json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.rng = random.Random()

    def search(self) -> list[dict[str, Any]]:
        term = self.rng.choice(sample()["terms"])
        path = f"/api/papers/search?q={quote(term)}&limit=10"
        with self.client.get(
            path, headers=self.headers, name="/api/papers/search", catch_response=True
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code} {answer.text[:200]}")
                return []
            items: list[dict[str, Any]] = answer.json()["items"]
            if not items:
                answer.failure(f"no paper found for {term!r}, which the data holds")
            return items

    def detail(self, s2_id: str) -> None:
        with self.client.get(
            f"/api/papers/{s2_id}",
            headers=self.headers,
            name="/api/papers/{id}",
            catch_response=True,
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code} {answer.text[:200]}")
            elif answer.json()["s2_id"] != s2_id:
                answer.failure(f"asked for {s2_id}, got {answer.json()['s2_id']}")

    def paper(self) -> str:
        return self.rng.choice(sample()["papers"])


class SeedScenario(SignedInUser):
    @task(3)
    def search_papers(self) -> None:
        self.search()

    @task(2)
    def read_detail(self) -> None:
        self.detail(self.paper())

    @task(1)
    def ask_for_a_summary(self) -> None:
        with self.client.post(
            "/api/tasks/summarize",
            json={"paper_id": self.paper()},
            headers=self.headers,
            catch_response=True,
        ) as answer:
            if answer.status_code != 202:
                answer.failure(f"{answer.status_code} {answer.text[:200]}")


class Researcher(SignedInUser):
    @task
    def explore(self) -> None:
        found = self.search()
        with_notes = set(sample()["with_notes"])
        chosen = next((item["s2_id"] for item in found if item["s2_id"] in with_notes), None)
        s2_id = chosen or self.rng.choice(sample()["with_notes"])
        self.detail(s2_id)
        for part, name in (("graph?depth=1&limit=50", "graph"), ("note", "note")):
            with self.client.get(
                f"/api/papers/{s2_id}/{part}",
                headers=self.headers,
                name=f"/api/papers/{{id}}/{name}",
                catch_response=True,
            ) as answer:
                if answer.status_code != 200:
                    answer.failure(f"{answer.status_code} {answer.text[:200]}")
