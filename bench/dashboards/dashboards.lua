-- Workload 2 (issue #7): sliding-window dashboards. Each connection stands for one dashboard
-- refreshing four panels (last 1 h, 6 h, 24 h, 7 d) with endTime = now on the real clock; one
-- panel every 250 ms per connection, so every panel once a second. The i-th request of the
-- thread goes to dashboard i mod N, which cycles through its panels. URLs change every second.
local windows = {3600, 6 * 3600, 86400, 7 * 86400}
local n, i = 1, 0

function init(args)
  n = tonumber(args[1]) or 1
end

function request()
  local dash = i % n
  local panel = math.floor(i / n) % #windows + 1
  i = i + 1
  local now = os.time()
  local path = string.format("/profilingGroups/dash%d/profile?startTime=%s&endTime=%s", dash,
    os.date("!%Y-%m-%dT%H%%3A%M%%3A%SZ", now - windows[panel]), os.date("!%Y-%m-%dT%H%%3A%M%%3A%SZ", now))
  return wrk.format("GET", path, {["Accept"] = "application/json"})
end

function delay()
  return 250
end
