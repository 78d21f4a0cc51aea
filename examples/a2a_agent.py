"""A small A2A agent that hookgate can deliver to, built on the official
`a2a-sdk` the way its own examples are: an AgentExecutor behind the SDK's
DefaultRequestHandler and InMemoryTaskStore, its Agent Card and JSON-RPC
routes from the SDK.

At start-up, once it serves its card, it registers itself with hookgate
(`POST /agents/register` with "protocol": "a2a" and its card's URL; hookgate
reads the card). Each webhook hookgate routes to it arrives as a message of
one context per conversation (a pull request, a Slack thread), in order; it
prints each one with where it came from (its provenance) and answers.

    python3 -m venv .venv && .venv/bin/pip install -r examples/a2a_agent.requirements.txt
    .venv/bin/python examples/a2a_agent.py

Settings: HOOKGATE_URL (default http://127.0.0.1:5003), AGENT_NAME
(a2a-agent), AGENT_PORT (9999), AGENT_TOKEN (if set, the card declares a
bearer scheme, calls without it are refused, and hookgate is given it),
HOOKGATE_ADMIN_TOKEN if hookgate needs one for registration.
"""

import os
import sys
import threading
import time

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse

from a2a.helpers.proto_helpers import new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)
from google.protobuf.json_format import MessageToDict

HOOKGATE_URL = os.environ.get("HOOKGATE_URL", "http://127.0.0.1:5003").rstrip("/")
AGENT_NAME = os.environ.get("AGENT_NAME", "a2a-agent")
PORT = int(os.environ.get("AGENT_PORT", "9999"))
TOKEN = os.environ.get("AGENT_TOKEN")


def describe(message):
    """One line per message: its conversation, its place, who sent it."""
    meta = message.get("metadata", {})
    place = meta.get("hookgate", {})
    provenance = meta.get("provenance", {})
    part = (message.get("parts") or [{}])[0]
    if "data" in part:
        data = part["data"]
        if "events" in data:
            what = f"batch={len(data['events'])}"
        else:
            event = data.get("headers", {}).get("x-github-event", "")
            action = data.get("body", {}).get("action", "")
            what = f"{event} {action}".strip()
    else:
        what = repr(part.get("text", ""))
    return (
        f"message {message.get('messageId')} task={place.get('task_name')} "
        f"sequence={int(place.get('sequence_id', 0))} "
        f"from={provenance.get('provider')}:{provenance.get('key_name')} {what}"
    )


class WebhookExecutor(AgentExecutor):
    """Reads each webhook and answers; a real agent would act on it here."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        print(describe(MessageToDict(context.message)), flush=True)
        await event_queue.enqueue_event(
            new_text_message("on it", context_id=context.context_id, task_id=context.task_id)
        )

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


def agent_card(name, port, token):
    """The card hookgate reads: a JSON-RPC interface at 127.0.0.1:`port`,
    and a bearer scheme when the agent has a `token`."""
    secured = {}
    if token:
        scheme = SecurityScheme(http_auth_security_scheme=HTTPAuthSecurityScheme(scheme="bearer"))
        secured = {
            "security_schemes": {"bearer": scheme},
            "security_requirements": [SecurityRequirement(schemes={"bearer": StringList()})],
        }
    return AgentCard(
        name=name,
        description="Reacts to pull requests and Slack threads delivered by hookgate",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(url=f"http://127.0.0.1:{port}/", protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=AgentCapabilities(streaming=False),
        default_input_modes=["application/json", "text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="webhooks", name="Webhooks", description="Reacts to webhooks", tags=["webhooks"])],
        **secured,
    )


class BearerOnly(BaseHTTPMiddleware):
    """Refuses every call without the agent's bearer token."""

    def __init__(self, app, token):
        super().__init__(app)
        self.token = token

    async def dispatch(self, request, call_next):
        if request.method == "POST" and request.headers.get("authorization") != f"Bearer {self.token}":
            print("refused a call without the bearer token", flush=True)
            return JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401)
        return await call_next(request)


def register_when_serving():
    """Registers with hookgate once the card is served (hookgate reads it)."""
    card_url = f"http://127.0.0.1:{PORT}/.well-known/agent-card.json"
    for _ in range(100):
        try:
            if httpx.get(card_url).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    body = {"name": AGENT_NAME, "protocol": "a2a", "agent_card_url": card_url}
    if TOKEN:
        body["outbound_token"] = TOKEN
    headers = {}
    if os.environ.get("HOOKGATE_ADMIN_TOKEN"):
        headers["x-api-key"] = os.environ["HOOKGATE_ADMIN_TOKEN"]
    answer = httpx.post(f"{HOOKGATE_URL}/agents/register", json=body, headers=headers)
    if answer.status_code != 200:
        print(f"registration refused: {answer.status_code} {answer.text}", file=sys.stderr, flush=True)
        os._exit(1)
    agent = answer.json()
    print(f"registered {agent['name']} with hookgate: A2A {agent['a2a_version']} at {agent['a2a_url']}", flush=True)


def main():
    card = agent_card(AGENT_NAME, PORT, TOKEN)
    handler = DefaultRequestHandler(
        agent_executor=WebhookExecutor(), task_store=InMemoryTaskStore(), agent_card=card
    )
    app = Starlette(routes=create_agent_card_routes(card) + create_jsonrpc_routes(handler, rpc_url="/"))
    if TOKEN:
        app.add_middleware(BearerOnly, token=TOKEN)
    threading.Thread(target=register_when_serving, daemon=True).start()
    print(f"serving {AGENT_NAME} on 127.0.0.1:{PORT}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")


if __name__ == "__main__":
    main()
