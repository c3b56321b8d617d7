-- wrk script: POST one fixed GitHub-signed JSON body on every request.
-- The harness writes the body to BENCH_BODY_FILE and passes its signature in BENCH_SIGNATURE
-- (sha256=<hex HMAC-SHA256 of the body>), exactly as GitHub sends X-Hub-Signature-256.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "GitHub-Hookshot/bench"
wrk.headers["X-GitHub-Event"] = "push"
wrk.headers["X-Hub-Signature-256"] = os.getenv("BENCH_SIGNATURE")
