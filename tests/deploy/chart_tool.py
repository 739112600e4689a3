"""Runs inside the deployment tools' virtualenv (.venv-deploy): lint and render the chart with
the Helm SDK (no helm binary), validate manifests against the Kubernetes schemas, scan with
checkov. Prints JSON on stdout for the tests in this folder, which run in the project's venv.

  chart_tool.py lint <chart>
  chart_tool.py render <chart> <values-json>            -> [{"template", "doc"}...]
  chart_tool.py validate <k8s-version> <docs-json-file>  -> [{"kind", "name", "result", "error"}]
  chart_tool.py checkov <framework> <path>               -> checkov's JSON report
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def lint(chart: str) -> object:
    import helm_python as helm

    return helm.lint(chart, strict=True, kube_version="v1.31.0")


def render(chart: str, values_json: str) -> object:
    import helm_python as helm
    import yaml

    manifests = helm.Chart.load(chart).render(
        json.loads(values_json), name="casework", namespace="casework", is_install=True
    )
    docs = []
    for template, text in sorted(manifests.items()):
        if not template.endswith(".yaml"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append({"template": template, "doc": doc})
    return docs


def validate(version: str, docs_file: str) -> object:
    import kubernetes_validate

    results = []
    for doc in json.loads(Path(docs_file).read_text()):
        entry = {"kind": doc.get("kind"), "name": doc.get("metadata", {}).get("name")}
        try:
            kubernetes_validate.validate(doc, version, strict=True)
            entry["result"] = "valid"
        except kubernetes_validate.SchemaNotFoundError:
            entry["result"] = "no-schema"  # a custom resource (Strimzi, CloudNativePG, Prometheus)
        except kubernetes_validate.ValidationError as exc:
            entry["result"] = "invalid"
            entry["error"] = f"{list(exc.path)}: {exc.message}"
        results.append(entry)
    return results


def checkov(framework: str, path: str) -> object:
    # Offline: no guideline download, no platform mapping (this machine reaches no such service).
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    target = ["-d", path] if Path(path).is_dir() else ["-f", path]
    out = subprocess.run(
        [str(Path(sys.executable).parent / "checkov"), *target, "--framework", framework,
         "--output", "json", "--skip-download", "--compact"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    report = json.loads(out.stdout or "{}")
    return report if isinstance(report, dict) else {"results": {}, "summary": report}


def main() -> None:
    command, *args = sys.argv[1:]
    result = {"lint": lint, "render": render, "validate": validate, "checkov": checkov}[command](*args)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
