-- wrk script: the openai provider's POST body to /v1/completions with only the
-- headers a minimal client needs (run.sh's reference run; its ratio uses the
-- exact request ouro sent, which instant serves as /last.lua).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer none"
wrk.body = '{"model":"instant","prompt":"say item 1:","n":1,"temperature":1,"top_p":1,"max_tokens":8,"seed":123}'
