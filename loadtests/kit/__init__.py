"""Shared parts of the benchmark and load-test drivers in loadtests/ and benches/. Standard library only (uvloop is
used when it is there).

    protocol     the MCP messages a client opens with (initialize, notifications/initialized)
    http_wire    HTTP/1.1 request bytes, a response parser (Content-Length and chunked), checks of MCP answers
    connections  raw keep-alive clients: a blocking one, an asyncio protocol that pipelines; the asyncio runner
    procs        CPU and memory of a process (and its children) from /proc, the machine's CPU ticks, CpuMeter
    servers      the HTTP servers under test (ferromcp's scale-out variants too): specs, start on a free port,
                 readiness probe (every worker), stop
    redis        a throwaway redis-server for the scale-out variants: free port, no persistence, flush, stop
    stats        percentile, number formatting
    report       Markdown tables, package versions
    workloads    the HTTP benchmark's settings and its workloads (b)-(d)
    ceiling      its workloads (a) and (e): wrk, or a pipelined asyncio generator
    resume       its workload (f): an SSE stream the server closes, resumed with GET + Last-Event-ID
    http_cells   reading its results: rows, values, table cells, ratios
    http_report  the HTTP benchmark's tables and notes
    scaleout_report  its scale-out table (memory, Redis, 2 workers + Redis) and the issue's targets
"""
