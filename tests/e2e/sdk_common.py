"""Shared bits of the SDK scripts the e2e tests run: settings from the environment, and a runner
that records each case's result or its error, then prints everything as one JSON object."""

import json
import os
import sys
import traceback

URL = os.environ["GW_URL"]
KEY = os.environ["GW_KEY"]
MODEL = os.environ["MODEL"]
PROMPT = "Say hello."
TOOL_PROMPT = "What is the weather in Paris? Use the tool."
TOOL_RESULT = "sunny, 21 C"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
}


def run_cases(cases):
    """Runs each (name, function) and prints {name: result | {"error": text}} as JSON."""
    out = {}
    for name, fn in cases:
        try:
            out[name] = fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the rest
            out[name] = {"error": f"{type(e).__name__}: {e}"}
            traceback.print_exc(file=sys.stderr)
    print(json.dumps(out))
