-- wrk script of benches/load/cold.sh: request sequences that miss lenta's render cache.
--
--   wrk -t1 ... -s cold.lua URL -- distinct START REGIONS
--       every request a different feed query: region (one of REGIONS, comma-separated, or all
--       regions) x start day x span x limit x format, never repeating. Request n of the run is
--       query number START + n; the mapping is a bijection onto QUERIES tuples, scrambled so
--       that consecutive requests differ in every dimension.
--   wrk -t1 ... -s cold.lua URL -- same START REGION
--       the same 50-item page shape every time (/regions/REGION/feed.rss), made cache-missing by
--       a far-future `to=` instant one second later on each request.
--   wrk -t1 ... -s cold.lua URL -- fixed PATH DELAY_MS
--       one fixed path (a cached feed, /healthz), each connection pausing DELAY_MS between
--       requests so that this probe measures latency without adding load of its own.
--
-- Every request sends `Accept-Encoding: gzip`. At the end one line is printed for the script:
--   RESULT duration_us requests status200 status503 other_status socket_errors p50_us p99_us not_gzip
-- (wrk's latency percentiles cover every answer, 503s included). Only `-t1` is used by cold.sh;
-- the counters are per thread and summed in done().

local GZIP = { ["Accept-Encoding"] = "gzip" }
local FORMATS = { "rss", "atom", "json" }
local LIMITS = { 10, 20, 50, 100 }
local SPANS = { 1, 7, 30, 365 }
-- The generated corpus spans 2022-01-01 .. 2026-10-31 (src/gen.rs): 1,765 start days.
local FIRST_DAY = 1641038400 -- 2022-01-01T12:00:00Z, noon so that a date never slips a day
local DAYS = 1765
-- `to=` of the `same` mode: 2030-01-01T00:00:00Z plus one second per request.
local FAR_FUTURE = 1893456000
-- A prime larger than any number of queries here, hence coprime to their count: multiplying by it
-- modulo that count maps query numbers onto tuples one to one, scrambled.
local SCRAMBLE = 1000003

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local mode, start, regions, path, pause
local n = 0

function init(args)
   mode = args[1] or "distinct"
   start = tonumber(args[2] or "0") or 0
   if mode == "distinct" then
      regions = {}
      for code in string.gmatch(args[3] or "", "[^,]+") do
         table.insert(regions, code)
      end
   elseif mode == "same" then
      path = "/regions/" .. (args[3] or "RU-NIZ") .. "/feed.rss?to="
   elseif mode == "fixed" then
      path = args[2]
      pause = tonumber(args[3] or "0") or 0
   else
      error("cold.lua: unknown mode " .. mode)
   end
   ok, busy, other, not_gzip = 0, 0, 0, 0
   if mode ~= "fixed" then
      delay = nil -- wrk schedules a timer per request when delay() exists
   end
end

local function day(d)
   return os.date("!%Y-%m-%d", FIRST_DAY + d * 86400)
end

-- Query number q as a path: mixed radix over (format, limit, span, region-or-all, day).
local function distinct_path(q)
   local choices = #regions + 1
   local total = #FORMATS * #LIMITS * #SPANS * choices * DAYS
   local x = (q * SCRAMBLE) % total
   local f = x % #FORMATS; x = (x - f) / #FORMATS
   local l = x % #LIMITS; x = (x - l) / #LIMITS
   local s = x % #SPANS; x = (x - s) / #SPANS
   local r = x % choices; x = (x - r) / choices
   local d = x % DAYS
   local query = "from=" .. day(d) .. "&to=" .. day(d + SPANS[s + 1] - 1) .. "&limit=" .. LIMITS[l + 1]
   if r < #regions then
      query = query .. "&region=" .. regions[r + 1]
   end
   return "/feed." .. FORMATS[f + 1] .. "?" .. query
end

function request()
   local p
   if mode == "distinct" then
      p = distinct_path(start + n)
   elseif mode == "same" then
      p = path .. os.date("!%Y-%m-%dT%H:%M:%SZ", FAR_FUTURE + start + n)
   else
      p = path
   end
   n = n + 1
   return wrk.format("GET", p, GZIP)
end

function delay()
   return pause
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
      local enc = headers["Content-Encoding"] or headers["content-encoding"]
      if enc ~= "gzip" and mode ~= "fixed" then
         not_gzip = not_gzip + 1
      end
   elseif status == 503 then
      busy = busy + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local s200, s503, sother, nogz = 0, 0, 0, 0
   for _, t in ipairs(threads) do
      s200 = s200 + t:get("ok")
      s503 = s503 + t:get("busy")
      sother = sother + t:get("other")
      nogz = nogz + t:get("not_gzip")
   end
   local e = summary.errors
   io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d\n",
      summary.duration, summary.requests, s200, s503, sother,
      e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(99), nogz))
end
