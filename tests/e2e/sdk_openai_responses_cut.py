"""The openai SDK's `responses.stream()` helper on a stream its upstream cut in the middle of an
event. Prints {"events": [type...], "seqs": [sequence_number...], "final": the error of
get_final_response()} or {"error": what broke the iteration} (a partial event that fails to
parse would)."""

import json
import sys
import traceback

from openai import OpenAI

from sdk_common import KEY, MODEL, PROMPT, URL

client = OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0, timeout=60)
out = {"events": [], "seqs": []}
try:
    with client.responses.stream(model=MODEL, input=PROMPT, store=False) as s:
        for ev in s:
            out["events"].append(ev.type)
            out["seqs"].append(ev.sequence_number)
        try:
            s.get_final_response()
            out["final"] = None
        except RuntimeError as e:
            out["final"] = str(e)
except Exception as e:  # noqa: BLE001 - reported to the test
    out["error"] = f"{type(e).__name__}: {e}"
    traceback.print_exc(file=sys.stderr)
print(json.dumps(out))
