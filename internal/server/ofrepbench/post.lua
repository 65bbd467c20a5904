-- wrk script for the OFREP benchmark (see main.go): POST one evaluation
-- request with a small context; the SDK key comes from WEIR_OFREP_KEY.
wrk.method = "POST"
wrk.body = '{"context":{"targetingKey":"user-12345","country":"NL","plan":"pro","appVersion":"2.3.1"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("WEIR_OFREP_KEY") or ""
