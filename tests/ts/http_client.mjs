// Drive examples/http_server with the official MCP TypeScript SDK's streamable HTTP client.
//
// Usage: node http_client.mjs CONFIG.json   (run from a directory with the pinned SDK
// installed: scripts/test installs tests/ts/package-lock.json into target/ts)
//
// The SDK's own OAuth helpers read the server's challenges and its metadata, so this also
// checks that a client that steps up its authorization would find what it needs.

import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
} from "@modelcontextprotocol/sdk/client/auth.js";

const results = { passed: 0, failed: 0 };
function check(name, condition, detail = "") {
  if (condition) {
    results.passed += 1;
  } else {
    results.failed += 1;
    console.error(`FAIL ${name}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
}

async function connect(url, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: "secure-tool-ts-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

async function refused(url, token) {
  try {
    const client = await connect(url, token);
    await client.close();
    return null;
  } catch (error) {
    return error;
  }
}

const textOf = (result) => result.content.map((c) => c.text ?? "").join("");

async function main(config) {
  const { urls, tokens } = config;

  const none = await refused(urls.all, null);
  check("no token is refused", none !== null);
  check("no token is a 401", none?.code === 401, String(none));
  for (const [name, token] of Object.entries(tokens.bad)) {
    const error = await refused(urls.all, token);
    check(`${name} is refused`, error !== null);
    check(`${name} is a 401`, error?.code === 401, String(error));
    const echoed = token.split(".").filter((p) => p.length > 8 && String(error).includes(p));
    check(`${name} does not echo the token`, echoed.length === 0, String(error));
  }

  // The SDK's own parsing of the challenge and discovery of the metadata.
  const raw = await fetch(urls.all, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${tokens.bad.expired}`,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  });
  const params = extractWWWAuthenticateParams(raw);
  check("401 challenge has the metadata URL", params.resourceMetadataUrl?.href === urls.all.replace("/mcp", "/.well-known/oauth-protected-resource/mcp"), params);
  check("401 challenge says invalid_token", params.error === "invalid_token", params);
  const metadata = await discoverOAuthProtectedResourceMetadata(new URL(urls.all));
  check("metadata resource is the endpoint", metadata.resource === urls.all, metadata);
  check("metadata scopes come from the tools", JSON.stringify(metadata.scopes_supported) === JSON.stringify(["fs.read", "fs.write"]), metadata);

  const forbidden = await fetch(urls.all, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${tokens.read}`,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "write_file", arguments: { path: "x.txt", content: "no" } } }),
  });
  const step = extractWWWAuthenticateParams(forbidden);
  check("403 status", forbidden.status === 403, forbidden.status);
  check("403 says insufficient_scope", step.error === "insufficient_scope", step);
  check("403 names the scope to ask for", step.scope === "fs.write", step);

  const reader = await connect(urls.all, tokens.read);
  const listed = (await reader.listTools()).tools.map((t) => t.name).sort();
  check("all tools listed", JSON.stringify(listed) === JSON.stringify(["list_dir", "read_file", "write_file"]), listed);
  const read = await reader.callTool({ name: "read_file", arguments: { path: "docs/hello.txt" } });
  check("read works", !read.isError && textOf(read) === "hello from inside", read);
  try {
    const result = await reader.callTool({ name: "write_file", arguments: { path: "x.txt", content: "no" } });
    check("write without scope is refused", false, result);
  } catch (error) {
    check("write without scope is a 403", error.code === 403, String(error));
    check("the refusal names the scope", String(error).includes("fs.write"), String(error));
  }
  const after = await reader.callTool({ name: "list_dir", arguments: { path: "." } });
  check("session still serves", textOf(after).includes("docs/"), after);
  await reader.close();

  const toolError = await connect(urls.tool_error, tokens.read_tool_error);
  const denied = await toolError.callTool({ name: "write_file", arguments: { path: "x.txt", content: "no" } });
  check("tool-error mode answers isError", denied.isError === true, denied);
  check("tool-error names the scope", textOf(denied).includes("fs.write"), denied);
  await toolError.close();

  const granted = await connect(urls.granted, tokens.read_granted);
  const visible = (await granted.listTools()).tools.map((t) => t.name).sort();
  check("granted lists only granted tools", JSON.stringify(visible) === JSON.stringify(["list_dir", "read_file"]), visible);
  const failures = [];
  for (const name of ["write_file", "no_such_tool"]) {
    try {
      const result = await granted.callTool({ name, arguments: { path: "x.txt", content: "no" } });
      failures.push(JSON.stringify({ isError: result.isError, content: result.content }));
    } catch (error) {
      failures.push(JSON.stringify({ code: error.code, message: error.message }));
    }
  }
  check("withheld tool looks unknown", failures[0] === failures[1], failures);
  await granted.close();

  const writer = await connect(urls.all, tokens.write);
  const wrote = await writer.callTool({ name: "write_file", arguments: { path: "ts.txt", content: "from typescript" } });
  check("write with scope works", !wrote.isError, wrote);
  await writer.close();
}

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
try {
  await main(config);
} catch (error) {
  check("no unexpected error", false, String(error?.stack ?? error));
}
console.log(`ts http client: ${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed ? 1 : 0);
