import { describe, expect, it } from "vitest";
import { act, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import { applyEvent, Chat } from "../views/Chat";
import type { ChatEvent } from "../bindings/ChatEvent";
import type { ChatMessage } from "../bindings/ChatMessage";
import { at } from "./clock";

const T = at();

function msg(over: Partial<ChatMessage>): ChatMessage {
  return {
    id: "m",
    session_id: "s1",
    role: "assistant",
    content: "",
    agent_id: null,
    status: "complete",
    metadata: {},
    created_at: T,
    updated_at: T,
    ...over,
  };
}

describe("applyEvent", () => {
  it("grows the live answer and clears it at the end", () => {
    let live = applyEvent(null, {
      event: "started",
      data: { session_id: "s1", user_message: msg({ id: "u", role: "user", content: "hi" }), message_id: "a", agent_id: null, agent_name: null, provider: "embedded", model: "gemma" },
    });
    live = applyEvent(live, { event: "delta", data: { text: "Hel" } });
    live = applyEvent(live, { event: "delta", data: { text: "lo" } });
    expect(live?.text).toBe("Hello");
    expect(applyEvent(live, { event: "finish", data: { message: msg({ id: "a" }) } })).toBeNull();
  });
});

describe("Chat view", () => {
  it("renders streaming markdown, stops, and shows the stopped answer", async () => {
    let channel: Channel<ChatEvent> | undefined;
    let resolveSend: ((m: ChatMessage) => void) | undefined;
    let stopped: string | null = null;
    let stored: ChatMessage[] = [];
    mockIPC((cmd, args) => {
      const a = args as Record<string, unknown>;
      switch (cmd) {
        case "chat_sessions_list":
          return { items: stored.length ? [{ id: "s1", title: "Explain", agent_id: null, auto_route: false, message_count: 2, created_at: T, updated_at: T }] : [], total: 0, limit: 200, offset: 0 };
        case "agents_list":
          return { items: [], total: 0, limit: 1000, offset: 0 };
        case "chat_messages_list":
          return { items: stored, total: stored.length, limit: 1000, offset: 0 };
        case "chat_send":
          channel = a.onEvent as Channel<ChatEvent>;
          expect(a.request).toMatchObject({ text: "Explain closures" });
          return new Promise<ChatMessage>((r) => (resolveSend = r));
        case "chat_stop":
          stopped = a.messageId as string;
          return true;
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Chat />);
    await user.type(await screen.findByRole("textbox", { name: "Message" }), "Explain closures");
    await user.click(screen.getByTestId("send"));
    await waitFor(() => expect(channel).toBeDefined());
    const user_message = msg({ id: "u1", role: "user", content: "Explain closures" });
    act(() => {
      channel!.onmessage({ event: "started", data: { session_id: "s1", user_message, message_id: "a1", agent_id: null, agent_name: null, provider: "embedded", model: "gemma-3" } });
      channel!.onmessage({ event: "delta", data: { text: "A **closure** captures " } });
      channel!.onmessage({ event: "delta", data: { text: "its environment:\n\n```rust\nlet add = |x| x + n;\n```" } });
    });
    // Streaming text is rendered as markdown with a code block, while a stop button is offered.
    expect(await screen.findByText("closure", { selector: "strong" })).toBeTruthy();
    expect(screen.getByText("let add = |x| x + n;", { selector: "code" })).toBeTruthy();
    expect(document.querySelector("[data-status='streaming']")).toBeTruthy();
    await user.click(screen.getByTestId("stop"));
    expect(stopped).toBe("a1");

    const final = msg({ id: "a1", content: "A **closure** captures its environment:", status: "stopped", metadata: { provider: "embedded", model: "gemma-3" } });
    stored = [user_message, final];
    act(() => {
      channel!.onmessage({ event: "finish", data: { message: final } });
      resolveSend!(final);
    });
    await waitFor(() => expect(document.querySelector("[data-message-id='a1'][data-status='stopped']")).toBeTruthy());
    expect(screen.getByText("stopped")).toBeTruthy();
    expect(screen.queryByTestId("stop")).toBeNull();
  });

  it("sends with auto-routing when the expert gate is chosen, and shows who answered", async () => {
    let channel: Channel<ChatEvent> | undefined;
    let request: Record<string, unknown> | undefined;
    mockIPC((cmd, args) => {
      const a = args as Record<string, unknown>;
      if (cmd === "chat_sessions_list") return { items: [], total: 0, limit: 200, offset: 0 };
      if (cmd === "agents_list") return { items: [{ id: "ana", name: "Ana" }], total: 1, limit: 1000, offset: 0 };
      if (cmd === "chat_messages_list") return { items: [], total: 0, limit: 1000, offset: 0 };
      if (cmd === "chat_send") {
        channel = a.onEvent as Channel<ChatEvent>;
        request = a.request as Record<string, unknown>;
        return new Promise<ChatMessage>(() => {});
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Chat />);
    await screen.findByRole("option", { name: "Ana" });
    await user.selectOptions(screen.getByRole("combobox", { name: "Agent" }), "Auto: the best agent for each message");
    await user.type(screen.getByRole("textbox", { name: "Message" }), "Analyse the sales");
    await user.click(screen.getByTestId("send"));
    await waitFor(() => expect(request).toBeDefined());
    expect(request).toMatchObject({ text: "Analyse the sales", auto_route: true });
    expect(request!.agent_id).toBeUndefined();
    const user_message = msg({ id: "u1", role: "user", content: "Analyse the sales" });
    act(() => {
      channel!.onmessage({ event: "started", data: { session_id: "s9", user_message, message_id: "a9", agent_id: "ana", agent_name: "Ana", provider: "embedded", model: "gemma-3" } });
      channel!.onmessage({ event: "delta", data: { text: "Looking at it" } });
    });
    expect(await screen.findByText(/Looking at it/)).toBeTruthy();
  });

  it("shows a failed answer's reason", async () => {
    const failed = msg({ id: "a2", content: "Part", status: "error", metadata: { error: { code: "PROVIDER_UNREACHABLE", message: "cannot reach the provider at http://127.0.0.1:11434: connection refused" } } });
    mockIPC((cmd) => {
      if (cmd === "chat_sessions_list") return { items: [{ id: "s1", title: "Old", agent_id: null, auto_route: false, message_count: 1, created_at: T, updated_at: T }], total: 1, limit: 200, offset: 0 };
      if (cmd === "agents_list") return { items: [], total: 0, limit: 1000, offset: 0 };
      if (cmd === "chat_messages_list") return { items: [failed], total: 1, limit: 1000, offset: 0 };
      return null;
    });
    const user = userEvent.setup();
    render(<Chat />);
    await user.click(await screen.findByRole("button", { name: /Old/ }));
    expect(await screen.findByText(/cannot reach the provider/)).toBeTruthy();
    expect(screen.getByText("failed")).toBeTruthy();
  });
});
