"""The C example of docs/engine.md (built from the document) on test models: it prints the top
5 of a good model, and on a model it cannot run (missing, or giving non-finite logits) exits 1
with the engine's message, each GError used once (GLib warnings are fatal here).
Usage: test_engine_example.py EXAMPLE TEST_MODELS_DIR"""
import os
import subprocess
import sys

EXAMPLE, MODELS = sys.argv[1], sys.argv[2]


def run(model):
    return subprocess.run([EXAMPLE, model], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "G_DEBUG": "fatal-warnings"})


def check(condition, message):
    if not condition:
        print("FAIL:", message)
        sys.exit(1)


r = run(os.path.join(MODELS, "divided"))
lines = r.stdout.splitlines()
check(r.returncode == 0 and len(lines) == 5, f"divided: exit {r.returncode}, {r.stdout!r} {r.stderr!r}")
check(all(line.startswith("LABEL_") and 0 < float(line.split()[1]) <= 1 for line in lines),
      f"top 5: {lines}")
for model, message in [("no-such-model", "does not exist"),
                       ("divided_inf_bias", "logits are NaN or infinite")]:
    r = run(os.path.join(MODELS, model))
    check(r.returncode == 1 and message in r.stderr and r.stdout == "",
          f"{model}: exit {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}")
print("the example of docs/engine.md runs and reports its errors")
