-- wrk script: every request says Accept-Encoding: gzip (the gzip endpoint), plus report.lua's summary line.
wrk.headers["Accept-Encoding"] = "gzip"

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("COVET-BENCH requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
