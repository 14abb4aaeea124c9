-- wrk script for benches/serve-load.sh and benches/intake-load.sh:
-- GET /v1/predict or /v1/recommend at random users and items, by original
-- id (`funkd gen` numbers them from 1).
--
-- Env: KIND (predict | recommend), USERS, ITEMS (the id ranges), N (top-N,
-- default 10), SEED (default 42), DELAY_MS (default 0: each connection
-- sends its next request as soon as the answer is in; N > 0: it waits N ms
-- first, which holds the load below what the service can take, and the
-- wait is not part of a request's latency).
-- Prints one machine-readable line at the end:
--   RESULT rps=… p50_us=… p90_us=… p99_us=… p999_us=… max_us=… requests=… errors=…
-- where errors counts non-2xx answers and socket errors of every kind.

local kind = os.getenv("KIND") or "predict"
local users = tonumber(os.getenv("USERS") or "1")
local items = tonumber(os.getenv("ITEMS") or "1")
local n = os.getenv("N") or "10"
local seed = tonumber(os.getenv("SEED") or "42")
local pause = tonumber(os.getenv("DELAY_MS") or "0")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  math.randomseed(seed + (id or 0) * 7919)
end

function request()
  local u = math.random(users)
  if kind == "recommend" then
    return wrk.format("GET", "/v1/recommend?user=" .. u .. "&n=" .. n)
  end
  return wrk.format("GET", "/v1/predict?user=" .. u .. "&item=" .. math.random(items))
end

-- wrk waits between requests only when the script defines `delay`.
if pause > 0 then
  function delay()
    return pause
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout))
end
