-- wrk script for benches/intake-load.sh: POST /v1/ratings.
--
-- Env: MODE single: each request is a JSON array of one rating by a random
--                   user of a random item (original ids 1..USERS, 1..ITEMS);
--           body:   every request sends the file BODY (made by the bench
--                   script: RATINGS ratings), with Content-Type CT.
--      SEED (default 42).
-- Prints the same RESULT line as serve-random.lua.

local mode = os.getenv("MODE") or "single"
local users = tonumber(os.getenv("USERS") or "1")
local items = tonumber(os.getenv("ITEMS") or "1")
local seed = tonumber(os.getenv("SEED") or "42")
local threads = 0
local body = nil

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  math.randomseed(seed + (id or 0) * 7919)
  if mode == "body" then
    local f = assert(io.open(os.getenv("BODY"), "rb"))
    body = f:read("*a")
    f:close()
    wrk.method = "POST"
    wrk.body = body
    wrk.headers["Content-Type"] = os.getenv("CT") or "application/json"
  end
end

function request()
  if mode == "body" then
    return wrk.format(nil, "/v1/ratings")
  end
  local one = string.format('[{"user":%d,"item":%d,"rating":%d}]',
    math.random(users), math.random(items), math.random(5))
  return wrk.format("POST", "/v1/ratings", {["Content-Type"] = "application/json"}, one)
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
