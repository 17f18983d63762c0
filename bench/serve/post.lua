-- wrk script: the same POST the openai provider sends to /v1/completions.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer none"
wrk.body = '{"model":"instant","prompt":"say item 1:","n":1,"temperature":1,"top_p":1,"max_tokens":8,"seed":123}'
