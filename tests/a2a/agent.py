"""An A2A agent built the way a2a-sdk's own examples build one: an
AgentExecutor behind the SDK's DefaultRequestHandler and InMemoryTaskStore,
served with the SDK's JSON-RPC and Agent Card routes. Only what the tests
need is added: every message it is given is appended, as the SDK parsed it,
to a JSON-lines file (so it survives restarts), and with --token every call
must carry that bearer token (the card declares the scheme). Its card and
bearer check are the example agent's.

    agent.py --port P --record FILE [--token T] [--v0.3]

With --v0.3 it serves a 0.3 card (`url`, `protocolVersion` 0.3.0) and the
SDK's 0.3 compatibility on its JSON-RPC route, as an agent built on the
SDK's 0.3 releases would answer.
"""

import argparse
import json
import sys
from pathlib import Path

import uvicorn
from google.protobuf.json_format import MessageToDict
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from a2a.helpers.proto_helpers import new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH

# The card and the bearer check are the example agent's (examples/a2a_agent.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import a2a_agent as example  # noqa: E402


class RecordingExecutor(AgentExecutor):
    def __init__(self, record):
        self.record = record

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = MessageToDict(context.message)
        with open(self.record, "a", encoding="utf-8") as out:
            out.write(json.dumps({"message": message, "context_id": context.context_id}) + "\n")
        await event_queue.enqueue_event(
            new_text_message("received", context_id=context.context_id, task_id=context.task_id)
        )

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


def older_card(port):
    """A card as 0.3 agents publish it."""
    card = {
        "name": "webhook-test-agent",
        "description": "Records the webhooks hookgate delivers",
        "url": f"http://127.0.0.1:{port}/",
        "preferredTransport": "JSONRPC",
        "protocolVersion": "0.3.0",
        "version": "1.0.0",
        "capabilities": {"streaming": False},
        "defaultInputModes": ["application/json"],
        "defaultOutputModes": ["text/plain"],
        "skills": [],
    }

    async def serve(request):
        return JSONResponse(card)

    return serve


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--token")
    parser.add_argument("--v0.3", dest="v03", action="store_true")
    args = parser.parse_args()
    agent_card = example.agent_card("webhook-test-agent", args.port, args.token)
    handler = DefaultRequestHandler(
        agent_executor=RecordingExecutor(args.record),
        task_store=InMemoryTaskStore(),
        agent_card=agent_card,
    )
    if args.v03:
        routes = [Route(AGENT_CARD_WELL_KNOWN_PATH, older_card(args.port), methods=["GET"])]
        routes += create_jsonrpc_routes(handler, rpc_url="/", enable_v0_3_compat=True)
    else:
        routes = create_agent_card_routes(agent_card) + create_jsonrpc_routes(handler, rpc_url="/")
    app = Starlette(routes=routes)
    if args.token:
        app.add_middleware(example.BearerOnly, token=args.token)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
