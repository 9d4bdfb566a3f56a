-- wrk script: POST tools/call echo over MCP Streamable HTTP, spread over sessions created beforehand.
--
--   python loadtests/wrk/make_sessions.py --port 8000 -n 64 -o /tmp/sessions.txt
--   wrk -t 2 -c 64 -d 10s --latency -s loadtests/wrk/tools_call.lua http://127.0.0.1:8000/mcp -- /tmp/sessions.txt 2
--
-- Script arguments (after `--`): the sessions file (one Mcp-Session-Id a line) and the thread count given to -t.
-- Thread i takes every session whose line number is i modulo the thread count, so the threads never share a
-- session; wrk does not say which connection asks for the next request, so a thread's connections take its
-- sessions round-robin. With -c equal to the number of sessions, every session carries about one connection's load.
--
-- MCP_WRK_CHECK=1 also reads every response and counts the ones that are not a 200 JSON-RPC result (reported as
-- "bad"). wrk then hands every header and body to Lua, which costs the generator CPU, so it is meant for a short
-- validation run before the measured one, not for the measurement itself.
--
-- MCP_WRK_STATELESS=1 sends stateless (2026-07-28) requests instead: no sessions (the sessions file is not read),
-- the version and client capabilities in each request's _meta, and the routing headers that era requires.
--
-- done() prints one line for tools: "MCP_WRK_RESULT " followed by a JSON object (latencies in microseconds).

local PROTOCOL_VERSION = "2025-11-25"
local BODY_HEAD = '{"jsonrpc":"2.0","id":"'
local BODY_TAIL = '","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello world"}}}'
local STATELESS = os.getenv("MCP_WRK_STATELESS") == "1"
local STATELESS_TAIL = '","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello world"},'
   .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
   .. '"io.modelcontextprotocol/clientCapabilities":{}}}}'

-- Main Lua state: the threads, kept for done() to collect their counters.
local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

-- Per-thread Lua state from here on (each wrk thread loads this file into its own interpreter).
local heads = {}
local head_count = 0
local counter = 0
local id_prefix = ""

local function read_sessions(path)
   local file, err = io.open(path, "r")
   if not file then
      error("cannot open the sessions file: " .. tostring(err))
   end
   local ids = {}
   for line in file:lines() do
      local id = line:match("^%s*(%S+)%s*$")
      if id then
         ids[#ids + 1] = id
      end
   end
   file:close()
   return ids
end

local function check_response(status, headers, body)
   checked = checked + 1
   -- A substring test rather than a JSON decode: wrk's LuaJIT has no JSON library, and the echo payload is ours.
   if status ~= 200 or not body:find('"result"', 1, true) or body:find('"error"', 1, true) then
      bad = bad + 1
   end
end

local function init_stateless()
   heads[1] = "POST " .. wrk.path .. " HTTP/1.1\r\n"
      .. "Host: " .. wrk.headers["Host"] .. "\r\n"
      .. "Accept: application/json, text/event-stream\r\n"
      .. "Content-Type: application/json\r\n"
      .. "MCP-Protocol-Version: 2026-07-28\r\n"
      .. "Mcp-Method: tools/call\r\n"
      .. "Mcp-Name: echo\r\n"
      .. "Content-Length: "
   head_count = 1
   session_count = 0
   BODY_TAIL = STATELESS_TAIL
end

function init(args)
   -- String ids carrying the thread index: two requests in flight on one session never share an id, even when a
   -- misconfigured thread count makes threads share sessions.
   id_prefix = "w" .. thread_index .. "-"
   checked = 0
   bad = 0
   if os.getenv("MCP_WRK_CHECK") == "1" then
      -- Defined only on request: wrk copies headers and body into Lua for every response once response() exists.
      response = check_response
   end
   if STATELESS then
      return init_stateless()
   end
   local path = args[1] or os.getenv("MCP_SESSIONS_FILE")
   if not path then
      error("pass the sessions file: wrk ... -s tools_call.lua URL -- SESSIONS_FILE THREADS")
   end
   local thread_count = tonumber(args[2] or os.getenv("MCP_WRK_THREADS") or "1")
   local ids = read_sessions(path)
   if #ids == 0 then
      error("no session ids in " .. path)
   end

   local mine = {}
   for i, id in ipairs(ids) do
      if (i - 1) % thread_count == thread_index then
         mine[#mine + 1] = id
      end
   end
   if #mine == 0 then
      -- More threads than sessions: share rather than leave a thread idle.
      mine[1] = ids[thread_index % #ids + 1]
   end
   session_count = #mine

   for _, id in ipairs(mine) do
      head_count = head_count + 1
      heads[head_count] = "POST " .. wrk.path .. " HTTP/1.1\r\n"
         .. "Host: " .. wrk.headers["Host"] .. "\r\n"
         .. "Accept: application/json, text/event-stream\r\n"
         .. "Content-Type: application/json\r\n"
         .. "MCP-Protocol-Version: " .. PROTOCOL_VERSION .. "\r\n"
         .. "Mcp-Session-Id: " .. id .. "\r\n"
         .. "Content-Length: "
   end
end

function request()
   counter = counter + 1
   local body = BODY_HEAD .. id_prefix .. counter .. BODY_TAIL
   return heads[counter % head_count + 1] .. #body .. "\r\n\r\n" .. body
end

function done(summary, latency, requests)
   local checked_total, bad_total, sessions = 0, 0, 0
   for _, thread in ipairs(threads) do
      checked_total = checked_total + (thread:get("checked") or 0)
      bad_total = bad_total + (thread:get("bad") or 0)
      sessions = sessions + (thread:get("session_count") or 0)
   end
   local errors = summary.errors
   local seconds = summary.duration / 1e6
   io.write(string.format(
      'MCP_WRK_RESULT {"requests":%d,"duration_us":%d,"rps":%.1f,"bytes":%d,'
         .. '"mean_us":%.1f,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"p999_us":%.1f,"max_us":%.1f,'
         .. '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,'
         .. '"checked":%d,"bad":%d,"sessions":%d}\n',
      summary.requests, summary.duration, summary.requests / seconds, summary.bytes,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      checked_total, bad_total, sessions
   ))
end
