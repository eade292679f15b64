// An MCP client built on the official TypeScript SDK (@modelcontextprotocol/sdk from npm),
// driven by the end-to-end tests of breeze-server (SPEC 14): Streamable HTTP transport,
// initialize, tools/list, one tools/call. Prints one JSON object on stdout.
//
//   node mcp_client.mjs URL API_KEY TOOL ARGS_JSON
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, key, tool, args] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { "X-API-Key": key } },
});
const client = new Client({ name: "breeze-e2e-ts", version: "1.0.0" });
await client.connect(transport);
const tools = await client.listTools();
let called;
try {
  const result = await client.callTool({ name: tool, arguments: JSON.parse(args) });
  called = { isError: Boolean(result.isError), content: result.structuredContent ?? JSON.parse(result.content[0].text) };
} catch (e) {
  called = { error: { code: e.code, message: e.message } };
}
const out = {
  sessionId: transport.sessionId ?? null,
  server: client.getServerVersion()?.name ?? null,
  tools: tools.tools.map((t) => t.name).sort(),
  called,
};
await transport.terminateSession();
await client.close();
console.log(JSON.stringify(out));
