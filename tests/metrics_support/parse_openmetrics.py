"""Parses OpenMetrics text (stdin) with prometheus_client's OpenMetrics parser and prints
the families as JSON: [{name, type, unit, help, samples: [[name, labels, value]]}].
A parse error exits non-zero with the parser's message."""
import json
import math
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

families = []
for f in text_string_to_metric_families(sys.stdin.read()):
    samples = []
    for s in f.samples:
        v = s.value
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            v = str(v)
        samples.append([s.name, s.labels, v])
    families.append(
        {"name": f.name, "type": f.type, "unit": f.unit, "help": f.documentation, "samples": samples}
    )
json.dump(families, sys.stdout)
