"""Drive examples/http_server with the official MCP Python SDK's streamable HTTP client.

Usage: SECURE_TOOL_MCP_MODE=MODE http_client.py CONFIG.json

MODE (default `legacy`) is the SDK's `Client(mode=...)`: `legacy` (the initialize handshake and a session) or
`2026-07-28` (stateless: no initialize, protocol signals in `_meta` and the Mcp-Method and
Mcp-Name headers). CONFIG names three running servers (challenge mode, tool-error mode,
granted-only list) and the tokens to use. Every invalid token must stop the client at its
first request with the server's reason; a call without the tool's scope must fail with the
insufficient-scope refusal (or, in tool-error mode, come back as an isError result); a
withheld tool must look unknown; valid tokens work. Both modes must see the same answers.
"""

import asyncio
import json
import os
import sys

from checks import Checks, text_of
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

MODE = os.environ.get("SECURE_TOOL_MCP_MODE", "legacy")
CHECKS = Checks(prefix=f"[{MODE}] ")
check = CHECKS.check


async def with_session(url, token, body):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with create_mcp_http_client(headers=headers) as http:
        transport = streamable_http_client(url, http_client=http)
        # No client-side cache: every list must come from the server, as filtered for
        # this caller.
        async with Client(transport, mode=MODE, cache=None) as client:
            return await body(client)


async def refused(url, token):
    """The error that stops the client at its first request, or None if not refused."""

    async def first_request(client):
        await client.list_tools()

    try:
        await asyncio.wait_for(with_session(url, token, first_request), 20)
    except Exception as error:  # noqa: BLE001 - any refusal is what we want to see
        return error
    return None


async def main(config):
    urls, tokens = config["urls"], config["tokens"]

    error = await refused(urls["all"], None)
    check("no token is refused", error is not None, "session opened without a token")
    check("no token says why", error is not None and "bearer token" in repr(error), repr(error))
    for name, token in tokens["bad"].items():
        error = await refused(urls["all"], token)
        check(f"{name} is refused", error is not None, "session opened")
        echoed = [part for part in token.split(".") if len(part) > 8 and part in repr(error)]
        check(f"{name} does not echo the token", not echoed, repr(error))
    expired = await refused(urls["all"], tokens["bad"]["expired"])
    check("expired says so", "expired" in repr(expired), repr(expired))

    async def reader(session):
        if MODE != "legacy":
            version = session.session.protocol_version
            check("speaks the pinned revision", version == MODE, version)
        tools = {t.name for t in (await session.list_tools()).tools}
        check("all tools listed", tools == {"read_file", "list_dir", "write_file"}, tools)
        result = await session.call_tool("read_file", {"path": "docs/hello.txt"})
        check("read works", not result.is_error and text_of(result) == "hello from inside", result)
        try:
            result = await session.call_tool("write_file", {"path": "x.txt", "content": "no"})
            check("write without scope is refused", False, result)
        except Exception as error:  # noqa: BLE001
            message = str(error)
            check("refusal names insufficient scope", "insufficient scope" in message, message)
            check("refusal names the scope", "fs.write" in message, message)
            data = getattr(error, "data", None) or {}
            check("refusal data is the OAuth error", data.get("error") == "insufficient_scope", data)
        # The session survives the refusal.
        result = await session.call_tool("list_dir", {"path": "."})
        check("session still serves", "docs/" in text_of(result), result)

    await asyncio.wait_for(with_session(urls["all"], tokens["read"], reader), 30)

    async def tool_error(session):
        result = await session.call_tool("write_file", {"path": "x.txt", "content": "no"})
        check("tool-error mode answers isError", result.is_error, result)
        check("tool-error names the scope", "fs.write" in text_of(result), text_of(result))

    await asyncio.wait_for(with_session(urls["tool_error"], tokens["read_tool_error"], tool_error), 30)

    async def granted(session):
        tools = {t.name for t in (await session.list_tools()).tools}
        check("granted lists only granted tools", tools == {"read_file", "list_dir"}, tools)
        errors = []
        for name in ("write_file", "no_such_tool"):
            try:
                await session.call_tool(name, {"path": "x.txt", "content": "no"})
                errors.append(None)
            except Exception as error:  # noqa: BLE001
                errors.append((type(error).__name__, getattr(error, "code", None), str(error)))
        check("withheld tool looks unknown", errors[0] is not None and errors[0] == errors[1], errors)

    await asyncio.wait_for(with_session(urls["granted"], tokens["read_granted"], granted), 30)

    async def writer(session):
        result = await session.call_tool("write_file", {"path": "py.txt", "content": "from python"})
        check("write with scope works", not result.is_error, result)

    await asyncio.wait_for(with_session(urls["all"], tokens["write"], writer), 30)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        asyncio.run(main(json.load(f)))
    print(CHECKS.summary(f"python http client ({MODE})"))
    sys.exit(1 if CHECKS.failed else 0)
