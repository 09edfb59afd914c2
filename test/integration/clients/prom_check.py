"""Parses a Prometheus text exposition with the Prometheus project's own parser (prometheus_client).

Usage: prom_check.py < metrics.txt
Prints one JSON object: {"families": [{"name", "type", "samples": [{"name", "labels", "value"}]}]}.
Exits 1 with the parser's error on stderr when the text does not parse.
"""

import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> None:
    text = sys.stdin.read()
    try:
        families = [
            {
                "name": f.name,
                "type": f.type,
                "samples": [
                    {"name": s.name, "labels": s.labels, "value": None if math.isnan(s.value) else s.value}
                    for s in f.samples
                ],
            }
            for f in text_string_to_metric_families(text)
        ]
    except Exception as exc:  # noqa: BLE001 - any parse failure is the answer
        print(f"exposition does not parse: {exc}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"families": families}, allow_nan=True).replace("Infinity", '"+Inf"'))


if __name__ == "__main__":
    main()
