-- wrk script: cycles through 48 aligned one-hour GetProfile requests (or the same bodies as static
-- files when the first script argument is "static"), so every request is one aligned bucket.
local paths = {}
local i = 0

function init(args)
  local static = args[1] == "static"
  local base = 1795564800 - 3 * 86400 -- 2026-11-22T00:00:00Z
  for h = 0, 47 do
    if static then
      paths[#paths + 1] = string.format("/h%d.json", h)
    else
      paths[#paths + 1] = string.format("/profilingGroups/bench/profile?startTime=%s&period=PT1H",
        os.date("!%Y-%m-%dT%H%%3A00%%3A00Z", base + h * 3600))
    end
  end
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Accept"] = "application/json" })
end
