"""The design guide's own stack, for comparison in `make bench`: FastAPI with
prometheus_client request metrics (the guide's middleware: a counter by
method, endpoint and status, and a histogram by method and endpoint), and a
/health route. Run under uvicorn by bench/http_bench."""
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Histogram

app = FastAPI()
REQUESTS = Counter("http_requests_total", "Total HTTP requests", ["method", "endpoint", "status"])
DURATION = Histogram("http_request_duration_seconds", "HTTP request duration in seconds",
                     ["method", "endpoint"],
                     buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))


@app.middleware("http")
async def metrics_middleware(request: Request, call_next):
    start = time.time()
    response = await call_next(request)
    DURATION.labels(request.method, request.url.path).observe(time.time() - start)
    REQUESTS.labels(request.method, request.url.path, response.status_code).inc()
    return response


@app.get("/health")
async def health():
    return JSONResponse({"status": "ok"})
