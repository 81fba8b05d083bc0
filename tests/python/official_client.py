"""Drive examples/fs_server with the official MCP Python SDK, as an MCP host would.

Usage: official_client.py FS_SERVER_BINARY

Every refusal must arrive as a tool result with isError (not a JSON-RPC error, not a
crash), must not echo what was sent, and the server must keep serving.
"""

import asyncio
import os
import sys
import tempfile

from checks import Checks, text_of
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

SECRET = "TOP-SECRET-OUTSIDE"
MARK = "ZZMARKZZ"
CHECKS = Checks()
check = CHECKS.check


async def session_for(binary, root, grants, body, extra=()):
    args = ["--root", root]
    for grant in grants:
        args += ["--grant", grant]
    args += list(extra)
    params = StdioServerParameters(command=binary, args=args, env={**os.environ, "RUST_LOG": "warn"})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await body(session)


async def main(binary):
    with tempfile.TemporaryDirectory() as base:
        root = os.path.join(base, "root")
        os.makedirs(os.path.join(root, "docs"))
        with open(os.path.join(root, "docs", "hello.txt"), "w") as f:
            f.write("hello from inside")
        with open(os.path.join(base, "secret.txt"), "w") as f:
            f.write(SECRET)
        os.symlink(os.path.join(base, "secret.txt"), os.path.join(root, "link-out"))

        async def full(session):
            tools = {t.name: t for t in (await session.list_tools()).tools}
            check("three tools", set(tools) == {"read_file", "list_dir", "write_file"}, tools)
            path_schema = tools["read_file"].input_schema["properties"]["path"]
            check("schema shows the bound", path_schema.get("maxLength") == 1024, path_schema)

            ok = await session.call_tool("read_file", {"path": "docs/hello.txt"})
            check("read ok", not ok.is_error and text_of(ok) == "hello from inside", text_of(ok))

            for path in ["../secret.txt", "docs/../../secret.txt", "/etc/passwd", "link-out",
                         os.path.join(base, "secret.txt")]:
                r = await session.call_tool("read_file", {"path": path})
                t = text_of(r)
                check(f"escape {path!r} refused", r.is_error and SECRET not in t, t)
                check(f"escape {path!r} leaks no path", base not in t, t)

            bad = [
                {"path": 42},
                {"path": "docs/hello.txt", MARK: 1},
                {},
                {"path": "x" * 5000},
                {"path": MARK + "\u202e", "extra": MARK},
            ]
            for args in bad:
                r = await session.call_tool("read_file", args)
                t = text_of(r)
                check(f"bad args {str(args)[:40]} is a tool error", r.is_error, t)
                check(f"bad args {str(args)[:40]} not echoed", MARK not in t and "xxxx" not in t, t)

            big = await session.call_tool("write_file", {"path": "big.txt", "content": "y" * 70000})
            check("oversized content refused", big.is_error and "too long" in text_of(big), text_of(big))

            w = await session.call_tool("write_file", {"path": "docs/new.txt", "content": "hi"})
            check("write ok", not w.is_error, text_of(w))
            again = await session.call_tool("read_file", {"path": "docs/new.txt"})
            check("still serving", text_of(again) == "hi", text_of(again))

        await session_for(binary, root, ["fs.read", "fs.write"], full)

        async def read_only(session):
            r = await session.call_tool("write_file", {"path": "docs/hello.txt", "content": "pwned"})
            check("write denied without fs.write", r.is_error and "fs.write" in text_of(r), text_of(r))
            with open(os.path.join(root, "docs", "hello.txt")) as f:
                check("file untouched", f.read() == "hello from inside")

        await session_for(binary, root, ["fs.read"], read_only)

        # The operator's policy: a role for the local principal, a tightened rate, a
        # disabled tool; tools/list carries the hints and the scopes each tool needs.
        policy = os.path.join(base, "secure-tool.toml")
        audit = os.path.join(base, "audit.jsonl")
        with open(policy, "w") as f:
            f.write('[roles]\nreader = ["fs.read"]\n\n[principals]\nlocal = { roles = ["reader"] }\n\n'
                    '[tools.read_file]\nrate = "2/min"\n\n[tools.write_file]\nenabled = false\n')

        async def with_policy(session):
            tools = {t.name: t for t in (await session.list_tools()).tools}
            check("disabled tool not listed", set(tools) == {"read_file", "list_dir"}, tools)
            hints = tools["read_file"].annotations
            check("read_only hint", hints is not None and hints.read_only_hint is True, hints)
            meta = tools["read_file"].meta or {}
            check("scopes in _meta", meta.get("secure-tool/scopes") == ["fs.read"], meta)
            for _ in range(2):
                r = await session.call_tool("read_file", {"path": "docs/hello.txt"})
                check("granted by the role", not r.is_error, text_of(r))
            r = await session.call_tool("read_file", {"path": "docs/hello.txt"})
            check("tightened rate", r.is_error and "rate limit" in text_of(r), text_of(r))
            w = await session.call_tool("write_file", {"path": "docs/x.txt", "content": "x"})
            check("disabled tool refused", w.is_error and "disabled" in text_of(w), text_of(w))

        await session_for(binary, root, [], with_policy, ["--policy", policy, "--audit-log", audit])
        import json
        with open(audit) as f:
            lines = [json.loads(line) for line in f]
        outcomes = [(l["tool"], l["outcome"]) for l in lines]
        check("audit lines", outcomes == [("read_file", "ok"), ("read_file", "ok"), ("read_file", "limited"),
                                           ("write_file", "denied")], outcomes)

    print(CHECKS.summary("official python client"))
    return 1 if CHECKS.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
