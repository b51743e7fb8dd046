"""Write RefNet's dashboards as JSON for Grafana to provision: `make dashboards`.

Usage: generate_dashboards.py [OUTPUT_DIR]   (default: the `dashboards/` folder beside this file)
Each dashboard goes to `<uid>.json`; the same source always writes the same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dashboards_src import DASHBOARDS
from dashboards_src.panels import to_json

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "dashboards"


def main(output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    for build in DASHBOARDS:
        built = build()
        path = output / f"{built.uid}.json"
        path.write_text(to_json(built))
        print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT)
