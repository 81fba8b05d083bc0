"""Drive the README's quick-start server, built as a fresh crate, with the official MCP
Python SDK over stdio, as a newcomer's MCP host would.

Usage: quickstart_client.py BINARY
"""

import asyncio
import sys

from checks import Checks, text_of
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

CHECKS = Checks()
check = CHECKS.check


async def main(binary):
    params = StdioServerParameters(command=binary, args=[])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            check("the quick start's tool is listed", set(tools) == {"add_note"}, tools)
            schema = tools["add_note"].input_schema
            check("the text bound is in the schema", schema["properties"]["text"].get("maxLength") == 500, schema)
            tags = schema["properties"]["tags"]
            check("the tag bounds are in the schema", tags.get("maxItems") == 8 and tags["items"].get("maxLength") == 32, tags)
            check("extra arguments are refused by the schema", schema.get("additionalProperties") is False, schema)
            ok = await session.call_tool("add_note", {"text": "buy milk", "tags": ["home"]})
            check("a note is kept", not ok.is_error and "8 characters" in text_of(ok), text_of(ok))
            long_tag = await session.call_tool("add_note", {"text": "x", "tags": ["t" * 33]})
            check("a tag of 33 characters is refused", long_tag.is_error and "at most 32" in text_of(long_tag), text_of(long_tag))
            check("the refusal does not echo the value", "t" * 33 not in text_of(long_tag), text_of(long_tag))
            extra = await session.call_tool("add_note", {"text": "x", "tags": [], "admin": True})
            check("an unknown argument is refused", extra.is_error, text_of(extra))
    print(CHECKS.summary("quick start"))
    return CHECKS.failed == 0


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main(sys.argv[1])) else 1)
