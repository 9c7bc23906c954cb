"""From counts to cost (issue 13): memory traffic per layer (traffic), device profiles as data
(devices), the calibrated roofline prediction (predict) — all analytic, no torch — and, at the
torch edge, microbenchmark calibration (calibrate) and measured latency (bench)."""
