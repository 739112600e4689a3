"""`make bench`: throughput, latency, breach lag, timeline and rebuild figures, each next to a
ceiling measured in the same run (ratios hold on a noisy machine; absolute figures do not)."""
