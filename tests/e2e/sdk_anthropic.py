"""The anthropic SDK against the gateway: messages non-stream, stream, tool_use (plain and
streamed) and a tool_result round trip. Prints one JSON object (see sdk_common.run_cases)."""

from anthropic import Anthropic

from sdk_common import KEY, MODEL, PROMPT, TOOL_PROMPT, TOOL_RESULT, URL, WEATHER_SCHEMA, run_cases

client = Anthropic(base_url=URL, api_key=KEY, max_retries=0, timeout=60)
TOOLS = [{"name": "get_weather", "description": "Weather of a city", "input_schema": WEATHER_SCHEMA}]
MESSAGES = [{"role": "user", "content": TOOL_PROMPT}]


def texts(msg):
    return "".join(b.text for b in msg.content if b.type == "text")


def text():
    r = client.messages.create(model=MODEL, max_tokens=256, messages=[{"role": "user", "content": PROMPT}])
    return {"text": texts(r), "stop": r.stop_reason, "usage": [r.usage.input_tokens, r.usage.output_tokens]}


def stream():
    with client.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": PROMPT}]
    ) as s:
        parts = list(s.text_stream)
        final = s.get_final_message()
    return {"text": "".join(parts), "chunks": len(parts), "stop": final.stop_reason, "final_text": texts(final),
            "usage": [final.usage.input_tokens, final.usage.output_tokens]}


def tool_use(msg):
    tu = [b for b in msg.content if b.type == "tool_use"][0]
    return {"name": tu.name, "args": tu.input, "id": tu.id, "stop": msg.stop_reason}


def tool():
    return tool_use(client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, tools=TOOLS))


def stream_tool():
    with client.messages.stream(model=MODEL, max_tokens=256, messages=MESSAGES, tools=TOOLS) as s:
        final = s.get_final_message()
    return tool_use(final)


def round_trip():
    r = client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, tools=TOOLS)
    tu = [b for b in r.content if b.type == "tool_use"][0]
    history = MESSAGES + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in r.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tu.id, "content": TOOL_RESULT}]},
    ]
    r2 = client.messages.create(model=MODEL, max_tokens=256, messages=history, tools=TOOLS)
    return {"text": texts(r2), "stop": r2.stop_reason}


run_cases([("text", text), ("stream", stream), ("tool", tool), ("stream_tool", stream_tool), ("round_trip", round_trip)])
