"""Protocol fixture for the peer benchmark: an instant, scripted "Ollama".

It speaks Ollama's documented HTTP API — `/api/tags`, `/api/show`,
`/api/version`, `/api/chat` (NDJSON stream or one JSON object) — and
Ollama's documented OpenAI-compatible endpoint `/v1/chat/completions` (JSON
or SSE) and `/v1/models`, because CrewAI 1.x sends `ollama/<model>` through
that endpoint with the OpenAI client while Ensemble and langchain-ollama use
`/api/chat`.

Every framework gets the same script, decided from the request alone:

* no tool result since the last user message -> one call of the first tool
  the request offers, with `{"ms": 0}` (the tool is `test_sleep`
  everywhere: wait `ms` milliseconds, answer "slept N ms");
* a tool result after the last user message -> the final answer.

A request without native tools (a framework that fell back to text ReAct)
gets the same two steps as text ("Action: ... Action Input: ...", then
"Final Answer: ..."); the counters say which form each framework used.

The whole response is written with one `sendall` (TCP_NODELAY), so no
framework waits on Nagle/delayed-ACK. The time spent inside the handler is
counted so the driver can subtract the model's share from each framework's
wall time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "bench-model"
FINAL = "Final Answer: done (the tool slept 0 ms)."
TOOL_ARGS = {"ms": 0}


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.calls = 0
            self.tool_calls = 0
            self.finals = 0
            self.tool_results_ok = 0  # final replies whose tool result said "slept 0 ms"
            self.text_mode = 0
            self.other = 0
            self.handler_s = 0.0
            self.first_chat: float | None = None  # epoch of the first chat request
            self.paths: dict[str, int] = {}

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "chat_calls": self.calls,
                "tool_call_replies": self.tool_calls,
                "final_replies": self.finals,
                "tool_results_ok": self.tool_results_ok,
                "text_react_replies": self.text_mode,
                "other_requests": self.other,
                "handler_s": self.handler_s,
                "first_chat": self.first_chat,
                "paths": dict(self.paths),
            }


STATS = Stats()


def _last_user_index(messages: list[dict]) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") in ("user", "human"):
            return i
    return -1


def _content_text(m: dict) -> str:
    c = m.get("content")
    if isinstance(c, str):
        return c
    if isinstance(c, list):  # OpenAI content parts
        return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
    return ""


def tool_result_ok(body: dict) -> bool:
    """The tool really ran: its answer ("slept 0 ms") is in the conversation."""
    return any("slept 0 ms" in _content_text(m) for m in (body.get("messages") or []))


def decide(body: dict) -> tuple[str, str | None]:
    """("tool", name) or ("final", None) or ("text_tool", name) / ("text_final", None)."""
    messages = body.get("messages") or []
    tools = body.get("tools") or []
    last_user = _last_user_index(messages)
    after = messages[last_user + 1 :] if last_user >= 0 else messages
    if tools:
        name = (tools[0].get("function") or {}).get("name") or tools[0].get("name")
        if any(m.get("role") == "tool" for m in after):
            return "final", None
        return "tool", name
    # Text ReAct: the observation comes back inside the last user message.
    last = _content_text(messages[last_user]) if last_user >= 0 else ""
    if "Observation:" in last or any(m.get("role") == "tool" for m in after):
        return "text_final", None
    return "text_tool", "test_sleep"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def ollama_chat(body: dict, kind: str, name: str | None) -> bytes:
    stream = body.get("stream", True)
    msg: dict = {"role": "assistant", "content": ""}
    if kind == "tool":
        msg["tool_calls"] = [{"function": {"name": name, "arguments": TOOL_ARGS}}]
    elif kind == "text_tool":
        msg["content"] = (
            f"Thought: I should use the tool.\nAction: {name}\nAction Input: {json.dumps(TOOL_ARGS)}"
        )
    else:
        msg["content"] = FINAL
    done = {
        "model": MODEL,
        "created_at": _now(),
        "done": True,
        "done_reason": "stop",
        "total_duration": 1000,
        "load_duration": 0,
        "prompt_eval_count": 100,
        "prompt_eval_duration": 500,
        "eval_count": 10,
        "eval_duration": 500,
    }
    if not stream:
        done["message"] = msg
        data = json.dumps(done).encode()
        return _http(200, "application/json", data)
    first = {"model": MODEL, "created_at": _now(), "message": msg, "done": False}
    done["message"] = {"role": "assistant", "content": ""}
    lines = [json.dumps(first) + "\n", json.dumps(done) + "\n"]
    return _chunked(200, "application/x-ndjson", [l.encode() for l in lines])


def openai_chat(body: dict, kind: str, name: str | None) -> bytes:
    stream = body.get("stream", False)
    created = int(time.time())
    usage = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    if kind == "tool":
        tc = {
            "id": "call_1",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(TOOL_ARGS)},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [tc]}
        finish = "tool_calls"
    else:
        text = FINAL
        if kind == "text_tool":
            text = f"Thought: I should use the tool.\nAction: {name}\nAction Input: {json.dumps(TOOL_ARGS)}"
        message = {"role": "assistant", "content": text}
        finish = "stop"
    base = {"id": "chatcmpl-bench", "created": created, "model": MODEL, "system_fingerprint": "fp_ollama"}
    if not stream:
        out = dict(base, object="chat.completion", usage=usage)
        out["choices"] = [{"index": 0, "message": message, "finish_reason": finish}]
        return _http(200, "application/json", json.dumps(out).encode())
    chunks = []
    delta: dict = {"role": "assistant", "content": message.get("content") or ""}
    if "tool_calls" in message:
        delta["tool_calls"] = [dict(message["tool_calls"][0], index=0)]
    chunks.append(dict(base, object="chat.completion.chunk", choices=[{"index": 0, "delta": delta, "finish_reason": None}]))
    chunks.append(dict(base, object="chat.completion.chunk", choices=[{"index": 0, "delta": {}, "finish_reason": finish}]))
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append(dict(base, object="chat.completion.chunk", choices=[], usage=usage))
    parts = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]
    return _chunked(200, "text/event-stream", parts)


def _http(status: int, ctype: str, data: bytes) -> bytes:
    head = f"HTTP/1.1 {status} OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


def _chunked(status: int, ctype: str, parts: list[bytes]) -> bytes:
    out = [f"HTTP/1.1 {status} OK\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()]
    for p in parts:
        out.append(f"{len(p):x}\r\n".encode() + p + b"\r\n")
    out.append(b"0\r\n\r\n")
    return b"".join(out)


TAGS = {
    "models": [
        {
            "name": MODEL,
            "model": MODEL,
            "modified_at": "2026-01-01T00:00:00Z",
            "size": 1,
            "digest": "0" * 64,
            "details": {"format": "gguf", "family": "bench", "parameter_size": "1M", "quantization_level": "Q4_K_M"},
        }
    ]
}
SHOW = {
    "modelfile": "",
    "parameters": "",
    "template": "{{ if .Tools }}{{ .Tools }}{{ end }}{{ .Prompt }}",
    "details": TAGS["models"][0]["details"],
    "model_info": {"general.architecture": "bench", "bench.context_length": 32768},
    "capabilities": ["completion", "tools"],
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args) -> None:  # quiet
        pass

    def _body(self) -> dict:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    def _send(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def do_GET(self) -> None:
        self._route("GET")

    def do_HEAD(self) -> None:
        self._send(_http(200, "text/plain", b""))

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        t = time.perf_counter()
        path = self.path.split("?")[0]
        is_chat = path in ("/api/chat", "/v1/chat/completions", "/chat/completions")
        if is_chat:
            with STATS.lock:
                if STATS.first_chat is None:
                    STATS.first_chat = time.time()
        body = self._body() if method == "POST" else {}
        if is_chat:
            kind, name = decide(body)
            data = ollama_chat(body, kind, name) if path == "/api/chat" else openai_chat(body, kind, name)
        elif path == "/api/tags":
            data = _http(200, "application/json", json.dumps(TAGS).encode())
        elif path == "/api/show":
            data = _http(200, "application/json", json.dumps(SHOW).encode())
        elif path == "/api/version":
            data = _http(200, "application/json", b'{"version":"0.12.0"}')
        elif path in ("/v1/models", "/models"):
            data = _http(200, "application/json", json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "library"}]}).encode())
        elif path == "/":
            data = _http(200, "text/plain", b"Ollama is running")
        else:
            data = _http(404, "application/json", b'{"error":"not found"}')
        self._send(data)
        spent = time.perf_counter() - t
        with STATS.lock:
            STATS.paths[path] = STATS.paths.get(path, 0) + 1
            STATS.handler_s += spent
            if is_chat:
                STATS.calls += 1
                if kind == "tool":
                    STATS.tool_calls += 1
                elif kind == "final":
                    STATS.finals += 1
                    STATS.tool_results_ok += tool_result_ok(body)
                else:
                    STATS.text_mode += 1
            else:
                STATS.other += 1


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def start(port: int = 0) -> tuple[Server, str]:
    srv = Server(("127.0.0.1", port), Handler)
    threading.Thread(target=srv.serve_forever, name="fake-ollama", daemon=True).start()
    host, port = srv.server_address[:2]
    return srv, f"http://{host}:{port}"


if __name__ == "__main__":  # manual use: python fake_ollama.py [port]
    import sys

    s, url = start(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        s.shutdown()
