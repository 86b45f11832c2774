-- wrk script for the resume-rate case: every request goes to
-- /<id>/<file> with the next id of a list, so that no two requests in
-- flight share an id (mobserve ends the older transfer of a (client id,
-- path) when a newer one starts).
--   wrk -tT ... -s resume.lua URL -- IDS_FILE FILE T
-- Thread t of T takes ids t, t+T, t+2T, ... in turn: threads never share an
-- id, and inside a thread two requests share one only if one of them is
-- still in flight after (ids/T) newer requests of that thread have started.
-- (wrk calls init() right after setup() for each thread, before the next
-- thread exists, so T comes as an argument.)
local counter = 1
local nextTid = 0

function setup(thread)
  thread:set("tid", nextTid)
  nextTid = nextTid + 1
end

function init(args)
  local ids = {}
  for line in io.lines(args[1]) do
    if line ~= "" then table.insert(ids, line) end
  end
  local nthreads = tonumber(args[3])
  paths = {}
  -- An id of "-" stands for the plain path: the same script drives both, so
  -- both pay wrk's per-request Lua and differ only in the server's work.
  for i = tid + 1, #ids, nthreads do
    if ids[i] == "-" then table.insert(paths, "/" .. args[2])
    else table.insert(paths, "/" .. ids[i] .. "/" .. args[2]) end
  end
end

function request()
  local path = paths[counter]
  counter = counter % #paths + 1
  return wrk.format(nil, path)
end
