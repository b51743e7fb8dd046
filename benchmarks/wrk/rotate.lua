-- GET requests rotating over the paths listed in a file (one per line), for the API load
-- benchmark (benchmarks/api_wrk.py runs it):
--
--   REFNET_BENCH_TOKEN=... wrk -t2 -c32 -d20s -s rotate.lua http://127.0.0.1:8000 -- PATHS THREADS
--
-- The bearer token comes from the environment, so it never shows in a process list. Each thread
-- starts at its own place in the list. With REFNET_BENCH_CHECK=1 every response's status is
-- counted (a `response` hook: it costs wrk some time, so the benchmark uses it for every run,
-- the ceiling's included, and compares like with like).
-- `done` prints one JSON line: requests, requests/s, latency percentiles in milliseconds, errors
-- (socket errors plus responses with status 400 or more, as wrk counts them) and, when checking,
-- the count of every status seen.

local paths = {}
local position = 0
local headers = {}
local threads = {}
statuses = {} -- global: `done` reads each thread's copy with thread:get

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("number", #threads)
end

function init(args)
  local file = assert(io.open(args[1], "r"), "cannot open the paths file " .. tostring(args[1]))
  for line in file:lines() do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
  file:close()
  assert(#paths > 0, "no paths in " .. args[1])
  local count = tonumber(args[2]) or 1
  position = math.floor((number - 1) * #paths / count)
  local token = os.getenv("REFNET_BENCH_TOKEN")
  if token and #token > 0 then
    headers["Authorization"] = "Bearer " .. token
  end
  headers["Accept"] = "application/json"
end

function request()
  position = position % #paths + 1
  return wrk.format("GET", paths[position], headers)
end

if os.getenv("REFNET_BENCH_CHECK") == "1" then
  function response(status, response_headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local seen = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses") or {}
    for status, count in pairs(counted) do
      seen[status] = (seen[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(seen) do
    parts[#parts + 1] = string.format('"%d": %d', status, count)
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, ' ..
    '"p99_ms": %.2f, "max_ms": %.2f, "errors": %d, "socket_errors": %d, "status_errors": %d, ' ..
    '"bytes": %d, "statuses": {%s}}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout + e.status,
    e.connect + e.read + e.write + e.timeout, e.status, summary.bytes, table.concat(parts, ", ")
  ))
end
