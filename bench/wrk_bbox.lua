-- wrk workload of bench/api.py: GET <BENCH_PATH>&bbox=<random box> with CRS84 corners.
--
-- Parameters come from the environment (bench/api.py sets them):
--   BENCH_PATH   path and query without the bbox, e.g. /collections/buildings/items?f=json&limit=100
--   BENCH_AREA   "minx,miny,maxx,maxy": where the box's lower-left corner may fall (degrees)
--   BENCH_BOX    "dlon,dlat": the box's size in degrees (500 m at the data's latitude)
--   BENCH_SEED   integer; thread n draws from seed*1000+n, so every server gets the same boxes
--   BENCH_OUT    file for the JSON summary written by done()
-- Only errors wrk itself counts are reported: connect/read/write/timeout, and "status" =
-- responses with a status of 400 or more (no response() hook: it would copy every body
-- into Lua on the same two cores the servers use).

local threads = {}
local counter = 0

local function numbers(s)
  local out = {}
  for v in string.gmatch(s, "[^,]+") do out[#out + 1] = tonumber(v) end
  return out
end

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  threads[#threads + 1] = thread
end

function init(args)
  local seed = tonumber(os.getenv("BENCH_SEED") or "1")
  math.randomseed(seed * 1000 + tid)
  path = os.getenv("BENCH_PATH")
  local a = numbers(os.getenv("BENCH_AREA"))
  local b = numbers(os.getenv("BENCH_BOX"))
  minx, miny, spanx, spany = a[1], a[2], a[3] - a[1], a[4] - a[2]
  dlon, dlat = b[1], b[2]
end

function request()
  local x = minx + math.random() * spanx
  local y = miny + math.random() * spany
  local url = string.format("%s&bbox=%.7f,%.7f,%.7f,%.7f", path, x, y, x + dlon, y + dlat)
  return wrk.format("GET", url)
end

function done(summary, latency, requests)
  local e = summary.errors
  local f = assert(io.open(os.getenv("BENCH_OUT"), "w"))
  f:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "mean": %.1f, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.mean, latency.max))
  f:close()
end
