#!/usr/bin/env python3
"""The scripted fake model of the competence benchmark: an HTTP server that
speaks the OpenAI chat-completions API as llama.cpp's server and vLLM do
(`GET /v1/models`, streamed `POST /v1/chat/completions` with `tools` or
`response_format: {type: json_schema}`), and answers like a model that knows
every task of tasks.json: it calls the task's tools in order, one per step,
then gives the scripted answer. It also answers Ensemble's capability probe
(three tool-call questions, a JSON object, a short text) as a model with
working tool calls would.

It measures the suite and the harness, not a model: every task should come
out right, and the time per task is Ensemble's own overhead plus the loopback
HTTP.

    fake_model.py --tasks tasks.json --site http://127.0.0.1:PORT --port 0
prints `listening PORT` once it accepts connections.
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "fake"


def probe_answer(body):
    """What a model with working tools answers to the probe's questions."""
    question = body["messages"][-1]["content"]
    if body.get("tools"):
        if "Paris" in question:
            return ("call", "get_weather", {"city": "Paris"})
        if "17" in question:
            return ("call", "add_numbers", {"a": 17, "b": 25})
        return ("call", "lookup_order", {"order_id": "A-1042"})
    if body.get("response_format"):
        return ("text", json.dumps({"city": "Lisbon", "temperature_c": 21}))
    return ("text", "The sea is wide. It is deep. It is calm today.")


def observations(messages):
    """Tool results after the task's own message (a worked example comes before it in JSON steps)."""
    start = next((i for i, m in enumerate(messages)
                  if isinstance(m.get("content"), str) and m["content"].startswith("Task: ")), 0)
    return sum(
        1
        for m in messages[start:]
        if m.get("role") == "tool"
        or (isinstance(m.get("content"), str) and m["content"].startswith("Observation from"))
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tasks = {}

    def log_message(self, *args):
        pass

    def send_json(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            return self.send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self.send_json(404, {"error": {"message": "not found"}})
        messages = body.get("messages", [])
        first_user = next((m["content"] for m in messages
                           if m.get("role") == "user" and m["content"].startswith("Task: ")), "")
        title = first_user.split("\n", 1)[0].removeprefix("Task: ").strip()
        task = self.tasks.get(title)
        if task is None:
            answer = probe_answer(body)
        else:
            done = observations(messages)
            calls = task["fake"]["calls"]
            if done < len(calls):
                tool, args = calls[done]
                answer = ("call", tool, args)
            else:
                answer = ("text", task["fake"]["answer"])
        self.stream(body, answer, len(json.dumps(messages)) // 4)

    def stream(self, body, answer, prompt_tokens):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def event(obj):
            data = f"data: {json.dumps(obj)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        def chunk(delta, finish=None, usage=None):
            c = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if usage:
                c["usage"] = usage
            event(c)

        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": 12, "total_tokens": prompt_tokens + 12}
        if answer[0] == "call" and body.get("tools"):
            _, name, args = answer
            chunk({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                   "function": {"name": name, "arguments": json.dumps(args)}}]})
            chunk({}, "tool_calls", usage)
        else:
            if answer[0] == "call":
                _, name, args = answer
                text = json.dumps({"action": name, "arguments": args, "thought": f"{name} answers this."})
            elif body.get("response_format") and answer[1].lstrip().startswith("{"):
                text = answer[1]
            elif body.get("response_format"):
                text = json.dumps({"action": "finish", "answer": answer[1], "confidence": 0.9,
                                   "thought": "The result is in."})
            else:
                text = answer[1]
            for i in range(0, len(text), 16):
                chunk({"content": text[i:i + 16]})
            chunk({}, "stop", usage)
        done = b"data: [DONE]\n\n"
        self.wfile.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
        self.wfile.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", required=True)
    ap.add_argument("--site", required=True)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    suite = json.load(open(a.tasks))
    for t in suite["tasks"]:
        t = json.loads(json.dumps(t).replace("{site}", a.site))
        Handler.tasks[t["title"]] = t
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
