"""The google-genai SDK against the gateway: generate_content, generate_content_stream, a function
call and a function-response round trip. Prints one JSON object (see sdk_common.run_cases)."""

from google import genai
from google.genai import types

from sdk_common import KEY, MODEL, PROMPT, TOOL_PROMPT, TOOL_RESULT, URL, run_cases

client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=URL, timeout=60_000))
CONFIG = types.GenerateContentConfig(
    tools=[
        types.Tool(
            function_declarations=[
                types.FunctionDeclaration(
                    name="get_weather",
                    description="Weather of a city",
                    parameters=types.Schema(
                        type="OBJECT",
                        properties={"city": types.Schema(type="STRING", description="City name")},
                        required=["city"],
                    ),
                )
            ]
        )
    ],
    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
)


def text():
    r = client.models.generate_content(model=MODEL, contents=PROMPT)
    u = r.usage_metadata
    usage = [u.prompt_token_count, u.candidates_token_count] if u else None
    return {"text": r.text, "finish": str(r.candidates[0].finish_reason), "usage": usage}


def stream():
    parts = [ch.text for ch in client.models.generate_content_stream(model=MODEL, contents=PROMPT) if ch.text]
    return {"text": "".join(parts), "chunks": len(parts)}


def tool():
    r = client.models.generate_content(model=MODEL, contents=TOOL_PROMPT, config=CONFIG)
    fc = r.function_calls[0]
    return {"name": fc.name, "args": fc.args}


def round_trip():
    user = types.Content(role="user", parts=[types.Part(text=TOOL_PROMPT)])
    r = client.models.generate_content(model=MODEL, contents=[user], config=CONFIG)
    fc = r.function_calls[0]
    reply = types.Content(
        role="user",
        parts=[types.Part.from_function_response(name=fc.name, response={"result": TOOL_RESULT})],
    )
    r2 = client.models.generate_content(model=MODEL, contents=[user, r.candidates[0].content, reply], config=CONFIG)
    return {"text": r2.text}


run_cases([("text", text), ("stream", stream), ("tool", tool), ("round_trip", round_trip)])
