"""The openai SDK against the gateway: chat non-stream, stream, tool call (plain and streamed)
and a tool-result round trip. Prints one JSON object (see sdk_common.run_cases)."""

import json

from openai import OpenAI

from sdk_common import KEY, MODEL, PROMPT, TOOL_PROMPT, TOOL_RESULT, URL, WEATHER_SCHEMA, run_cases

client = OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0, timeout=60)
TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather of a city", "parameters": WEATHER_SCHEMA},
    }
]
MESSAGES = [{"role": "user", "content": TOOL_PROMPT}]


def text():
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}])
    c = r.choices[0]
    usage = [r.usage.prompt_tokens, r.usage.completion_tokens] if r.usage else None
    return {"text": c.message.content, "finish": c.finish_reason, "usage": usage}


def stream():
    s = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
    )
    parts, finish, usage = [], None, None
    for ch in s:
        for c in ch.choices:
            if c.delta.content:
                parts.append(c.delta.content)
            finish = c.finish_reason or finish
        if ch.usage:
            usage = [ch.usage.prompt_tokens, ch.usage.completion_tokens]
    return {"text": "".join(parts), "chunks": len(parts), "finish": finish, "usage": usage}


def tool():
    r = client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS)
    c = r.choices[0]
    tc = c.message.tool_calls[0]
    return {"name": tc.function.name, "args": json.loads(tc.function.arguments), "id": tc.id, "finish": c.finish_reason}


def stream_tool():
    s = client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS, stream=True)
    calls, finish = {}, None
    for ch in s:
        for c in ch.choices:
            for t in c.delta.tool_calls or []:
                call = calls.setdefault(t.index, {"id": None, "name": "", "args": ""})
                call["id"] = t.id or call["id"]
                if t.function:
                    call["name"] += t.function.name or ""
                    call["args"] += t.function.arguments or ""
            finish = c.finish_reason or finish
    call = calls[0]
    return {"name": call["name"], "args": json.loads(call["args"]), "id": call["id"], "finish": finish, "calls": len(calls)}


def round_trip():
    r = client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS)
    msg = r.choices[0].message
    tc = msg.tool_calls[0]
    history = MESSAGES + [
        msg.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": tc.id, "content": TOOL_RESULT},
    ]
    r2 = client.chat.completions.create(model=MODEL, messages=history, tools=TOOLS)
    return {"text": r2.choices[0].message.content, "finish": r2.choices[0].finish_reason}


run_cases([("text", text), ("stream", stream), ("tool", tool), ("stream_tool", stream_tool), ("round_trip", round_trip)])
