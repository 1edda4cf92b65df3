"""The openai SDK's Responses API against the gateway: create, the `responses.stream()` helper
(which enforces the event grammar: `response.created` first, items opened before their deltas,
one `response.completed`), a function call (plain and streamed) and a tool-result round trip.
Prints one JSON object (see sdk_common.run_cases)."""

import json

from openai import OpenAI

from sdk_common import KEY, MODEL, PROMPT, TOOL_PROMPT, TOOL_RESULT, URL, WEATHER_SCHEMA, run_cases

client = OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0, timeout=60)
TOOLS = [{"type": "function", "name": "get_weather", "description": "Weather of a city", "parameters": WEATHER_SCHEMA}]
INPUT = [{"role": "user", "content": TOOL_PROMPT}]


def call_of(r):
    return next(i for i in r.output if i.type == "function_call")


def text():
    r = client.responses.create(model=MODEL, input=PROMPT, store=False)
    return {"text": r.output_text, "status": r.status, "usage": [r.usage.input_tokens, r.usage.output_tokens]}


def stream():
    deltas = []
    with client.responses.stream(model=MODEL, input=PROMPT, store=False) as s:
        for ev in s:
            if ev.type == "response.output_text.delta":
                deltas.append(ev.delta)
        final = s.get_final_response()
    return {"text": "".join(deltas), "final": final.output_text, "chunks": len(deltas), "status": final.status}


def tool():
    r = client.responses.create(model=MODEL, input=INPUT, tools=TOOLS, store=False)
    c = call_of(r)
    return {"name": c.name, "args": json.loads(c.arguments), "id": c.call_id}


def stream_tool():
    with client.responses.stream(model=MODEL, input=INPUT, tools=TOOLS, store=False) as s:
        for _ in s:
            pass
        final = s.get_final_response()
    c = call_of(final)
    calls = [i for i in final.output if i.type == "function_call"]
    return {"name": c.name, "args": json.loads(c.arguments), "id": c.call_id, "calls": len(calls)}


def round_trip():
    r = client.responses.create(model=MODEL, input=INPUT, tools=TOOLS, store=False)
    c = call_of(r)
    history = INPUT + [i.model_dump(exclude_none=True) for i in r.output] + [
        {"type": "function_call_output", "call_id": c.call_id, "output": TOOL_RESULT}
    ]
    r2 = client.responses.create(model=MODEL, input=history, tools=TOOLS, store=False)
    return {"text": r2.output_text, "status": r2.status}


run_cases([("text", text), ("stream", stream), ("tool", tool), ("stream_tool", stream_tool), ("round_trip", round_trip)])
