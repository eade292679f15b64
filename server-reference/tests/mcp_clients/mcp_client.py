"""An MCP client built on the official Python SDK (`mcp` from PyPI), driven by the
end-to-end tests of breeze-server (SPEC 14). It speaks to the server only through the SDK:
Streamable HTTP transport, its protocol negotiation (the default `auto` mode probes
`server/discover` and falls back to the `initialize` handshake), tools/list and tools/call.

    python mcp_client.py URL API_KEY COMMAND ARGS_JSON

COMMAND:
  explore  ARGS = queue_script arguments: initialize, list the tools, call list_devices and
           get_device, then queue_script (which a human must approve); prints what it saw
  call     ARGS = {"name": ..., "arguments": {...}}: one tool call
  wait     ARGS = {"deviceId", "commandId"}: polls get_command_result until the command ends

Prints one JSON object on stdout. A JSON-RPC error of a call is printed as
{"error": {"code", "message", "data"}} (exit status 0); anything else unexpected fails.
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def structured(result):
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def call(client, name, arguments):
    try:
        result = await client.call_tool(name, arguments)
    except MCPError as e:
        return {"error": {"code": e.error.code, "message": e.error.message, "data": e.error.data}}
    return {"isError": bool(result.is_error), "content": structured(result)}


async def main(url, key, command, args):
    http = httpx2.AsyncClient(headers={"X-API-Key": key}, timeout=30)
    async with http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            if command == "explore":
                tools = await client.list_tools()
                devices = await call(client, "list_devices", {})
                device = await call(client, "get_device", {"deviceId": args["deviceId"]})
                held = await call(client, "queue_script", args)
                out = {
                    "protocolVersion": client.protocol_version,
                    "server": client.server_info.name if client.server_info else None,
                    "tools": sorted(t.name for t in tools.tools),
                    "devices": devices,
                    "device": device,
                    "held": held,
                }
            elif command == "call":
                out = await call(client, args["name"], args.get("arguments", {}))
            elif command == "wait":
                for _ in range(120):
                    out = await call(client, "get_command_result", args)
                    status = out.get("content", {}).get("command", {}).get("status")
                    if status in ("completed", "failed", "timeout", "cancelled"):
                        break
                    await asyncio.sleep(0.5)
            else:
                raise SystemExit(f"unknown command {command}")
    print(json.dumps(out))


if __name__ == "__main__":
    url, key, command, args = sys.argv[1:5]
    asyncio.run(main(url, key, command, json.loads(args)))
