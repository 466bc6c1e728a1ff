-- wrk script: tools/call echo as fast as the connections allow (closed model). Driven by
-- bench/harness/load.ts; MCP_SESSION is the session id (empty for servers without sessions);
-- MCP_ERA=modern sends 2026-07-28 requests (the _meta envelope and its headers, no session).
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["accept"] = "application/json, text/event-stream"
if os.getenv("MCP_ERA") == "modern" then
  wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, lookout"},'
    .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
  wrk.headers["mcp-protocol-version"] = "2026-07-28"
  wrk.headers["mcp-method"] = "tools/call"
  wrk.headers["mcp-name"] = "echo"
else
  wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, lookout"}}}'
  wrk.headers["mcp-protocol-version"] = "2025-11-25"
  local session = os.getenv("MCP_SESSION")
  if session ~= nil and session ~= "" then
    wrk.headers["mcp-session-id"] = session
  end
end

done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.3f,"errors":%d,"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
