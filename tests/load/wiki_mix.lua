-- Mixed reads and writes against the wiki, for wrk (tests/test_load.py).
--
-- wrk -t N -c C -d D -s wiki_mix.lua URL -- RUN COOKIE1 TOKEN1 COOKIE2 TOKEN2 ...
-- RUN names this run (a capital and small letters, e.g. Main), so two runs never save the same page.
-- Thread i signs its requests with the session cookie and CSRF token i (one wiki user each).
-- Every 4th request is a save that creates a new page, Load<RUN>T<i>N<n>, whose text names it:
-- pages are never edited twice, so no save can meet an edit conflict and every one must land.
-- The other three read: the front page, and the edit form and the page of the save this thread saw
-- answered last (a save answered 303 must be readable at once, from any worker).
-- done() prints "LOAD ..." lines that the test parses: the statuses seen, the saves sent and
-- the names of the saves answered 303.

local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
    table.insert(threads, thread)
end

function init(args)
    run = args[1]
    cookie = args[2 * id]
    token = args[2 * id + 1]
    sent = 0          -- saves sent
    requests_made = 0
    last_saved = "/FrontPage"
    statuses = {}     -- status -> count
    saved = {}        -- names of the saves answered 303
    stray = 0         -- 303s whose Location is not a page of this thread
end

local function save_request()
    sent = sent + 1
    local name = string.format("Load%sT%dN%d", run, id, sent)
    local body = "csrf_token=" .. token .. "&base=0&comment=&action=save"
        .. "&text=" .. string.format("Load+marker+%s+from+thread+%d+save+%d.", name, id, sent)
    return wrk.format("POST", "/" .. name .. "/edit", {
        ["Cookie"] = "session=" .. cookie,
        ["Content-Type"] = "application/x-www-form-urlencoded",
    }, body)
end

function request()
    requests_made = requests_made + 1
    local turn = requests_made % 4
    if turn == 0 then
        return save_request()
    elseif turn == 1 then
        return wrk.format("GET", "/FrontPage")
    elseif turn == 2 then
        return wrk.format("GET", last_saved .. "/edit", {["Cookie"] = "session=" .. cookie})
    end
    return wrk.format("GET", last_saved)
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if status == 303 then
        local location = headers["Location"] or ""
        local name = string.match(location, "^/(Load" .. run .. "T" .. id .. "N%d+)$")
        if name then
            table.insert(saved, name)
            last_saved = location
        else
            stray = stray + 1
        end
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("LOAD summary requests=%d duration_us=%d bytes=%d\n",
        summary.requests, summary.duration, summary.bytes))
    io.write(string.format("LOAD errors connect=%d read=%d write=%d status=%d timeout=%d\n",
        e.connect, e.read, e.write, e.status, e.timeout))
    io.write(string.format("LOAD latency_us mean=%d p50=%d p99=%d max=%d\n",
        latency.mean, latency:percentile(50), latency:percentile(99), latency.max))
    for _, thread in ipairs(threads) do
        local id = thread:get("id")
        io.write(string.format("LOAD thread %d sent=%d stray=%d\n", id, thread:get("sent"), thread:get("stray")))
        for status, count in pairs(thread:get("statuses")) do
            io.write(string.format("LOAD status %d %d\n", status, count))
        end
        for _, name in ipairs(thread:get("saved")) do
            io.write("LOAD saved " .. name .. "\n")
        end
    end
end
