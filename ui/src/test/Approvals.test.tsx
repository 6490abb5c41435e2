import { describe, expect, it, vi } from "vitest";
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { Approvals, countdown, parseArgs } from "../views/Approvals";
import type { Approval } from "../bindings/Approval";
import { agent, approval, task } from "./fixtures";
import { at, DAY, HOUR, MINUTE, NOW, SECOND } from "./clock";


function page<T>(items: T[]) {
  return { items, total: items.length, limit: 100, offset: 0 };
}

type Call = { cmd: string; args: Record<string, unknown> };

/** The backend: pending and decided requests, an agent, a task; records every call. */
function backend(opts: { pending?: Approval[]; history?: Approval[]; failList?: boolean } = {}) {
  const calls: Call[] = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: args as Record<string, unknown> });
    switch (cmd) {
      case "approvals_list":
        if (opts.failList) throw { code: "DATABASE_BUSY", message: "database error: database is locked" };
        return page(opts.pending ?? []);
      case "approvals_history":
        return page(opts.history ?? []);
      case "agents_list":
        return page([agent()]);
      case "tasks_get":
        return task({ id: (args as { id: string }).id, title: "Sum of 1 to 100", status: "awaiting_approval" });
      case "approvals_decide": {
        const a = args as { id: string; decision: { verdict: string } };
        return approval({ id: a.id, status: a.decision.verdict === "reject" ? "rejected" : "approved" });
      }
    }
    return null;
  });
  return calls;
}

const decided = (calls: Call[]) => calls.filter((c) => c.cmd === "approvals_decide").map((c) => c.args);

describe("countdown and argument parsing", () => {
  it("counts down to the second and says nothing once expired", () => {
    expect(countdown(at(90 * SECOND), NOW)).toBe("00:01:30");
    expect(countdown(at(DAY + 2 * HOUR + 5 * SECOND), NOW)).toBe("1 d 02:00:05");
    expect(countdown(at(), NOW)).toBeNull();
    expect(countdown("not a date", NOW)).toBeNull();
  });

  it("accepts only a JSON object as arguments", () => {
    expect(parseArgs('{"code": "print(1)"}')).toEqual({ ok: { code: "print(1)" } });
    expect(parseArgs("{code: 1}")).toMatchObject({ error: expect.stringMatching(/^Not valid JSON/) });
    expect(parseArgs("[1, 2]")).toMatchObject({ error: expect.stringMatching(/must be a JSON object/) });
    expect(parseArgs("null")).toMatchObject({ error: expect.stringMatching(/must be a JSON object/) });
  });
});

describe("Approval inbox", () => {
  it("shows the proposed action readably, with its agent and task, and a live countdown", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setInterval", "clearInterval"] });
    vi.setSystemTime(NOW);
    backend({ pending: [approval({ expires_at: at(90 * SECOND) })] });
    render(<Approvals />);
    const card = await screen.findByRole("article", { name: "Ada wants to run code_run" });
    expect(within(card).getByText("code_run", { selector: "code" })).toBeTruthy();
    // The code argument as code, not as an escaped JSON string.
    expect(within(card).getByText("print(sum(range(1, 101)))")).toBeTruthy();
    expect(within(card).getByText("python")).toBeTruthy();
    expect(within(card).getByText("Ada")).toBeTruthy();
    expect(await within(card).findByText("Sum of 1 to 100")).toBeTruthy();
    expect(screen.getByRole("tab", { name: "Pending (1)" })).toBeTruthy();

    const timer = within(card).getByRole("timer");
    expect(timer.textContent).toBe("expires in 00:01:30");
    act(() => vi.advanceTimersByTime(3000));
    expect(timer.textContent).toBe("expires in 00:01:27");
    act(() => vi.advanceTimersByTime(87_000));
    // Past the expiry: rejected by default, nothing can be decided any more.
    expect(within(card).queryByRole("timer")).toBeNull();
    expect(within(card).getByText("expired — rejected by default")).toBeTruthy();
    expect((within(card).getByRole("button", { name: "Approve" }) as HTMLButtonElement).disabled).toBe(true);
    expect((within(card).getByRole("button", { name: "Reject" }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("blocks invalid JSON arguments and sends the edited ones", async () => {
    const calls = backend({ pending: [approval()] });
    const user = userEvent.setup();
    render(<Approvals />);
    const card = await screen.findByRole("article", { name: "Ada wants to run code_run" });
    await user.click(within(card).getByRole("button", { name: "Edit arguments" }));
    const editor = within(card).getByRole("textbox", { name: "Arguments for code_run (JSON)" }) as HTMLTextAreaElement;
    expect(JSON.parse(editor.value)).toEqual({ language: "python", code: "print(sum(range(1, 101)))" });

    await user.clear(editor);
    await user.type(editor, '{{"language": "python", "code": "print(2)"');
    expect(within(card).getByRole("alert").textContent).toMatch(/^Not valid JSON/);
    const send = within(card).getByRole("button", { name: "Approve with edits" }) as HTMLButtonElement;
    expect(send.disabled).toBe(true);
    expect(editor.getAttribute("aria-invalid")).toBe("true");
    await user.click(send);
    expect(decided(calls)).toHaveLength(0);

    await user.type(editor, "}");
    expect(within(card).queryByRole("alert")).toBeNull();
    await user.type(within(card).getByRole("textbox", { name: "Comment" }), "print 2 instead");
    await user.click(send);
    await waitFor(() => expect(decided(calls)).toHaveLength(1));
    expect(decided(calls)[0]).toEqual({
      id: "appr-1",
      decision: {
        verdict: "edit",
        comment: "print 2 instead",
        edited_action: { tool: "code_run", arguments: { language: "python", code: "print(2)" } },
      },
    });
  });

  it("rejects with the comment", async () => {
    const calls = backend({ pending: [approval()] });
    const user = userEvent.setup();
    render(<Approvals />);
    const card = await screen.findByRole("article", { name: "Ada wants to run code_run" });
    await user.type(within(card).getByRole("textbox", { name: "Comment" }), "  no code today ");
    await user.click(within(card).getByRole("button", { name: "Reject" }));
    await waitFor(() => expect(decided(calls)).toHaveLength(1));
    expect(decided(calls)[0]).toEqual({ id: "appr-1", decision: { verdict: "reject", comment: "no code today" } });
  });

  it("approves as proposed, and shows why when the request was decided meanwhile", async () => {
    const calls: Call[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args: args as Record<string, unknown> });
      if (cmd === "approvals_list") return page([approval()]);
      if (cmd === "approvals_decide")
        throw { code: "CONFLICT", message: "this request was already expired; only pending requests can be decided" };
      if (cmd === "agents_list") return page([]);
      return task();
    });
    const user = userEvent.setup();
    render(<Approvals />);
    const card = await screen.findByRole("article", { name: "Ada wants to run code_run" });
    await user.click(within(card).getByRole("button", { name: "Approve" }));
    expect((await within(card).findByRole("alert")).textContent).toBe(
      "this request was already expired; only pending requests can be decided",
    );
    expect(decided(calls)[0]).toEqual({ id: "appr-1", decision: { verdict: "approve" } });
  });

  it("answers an agent's question", async () => {
    const calls = backend({
      pending: [approval({ id: "q1", kind: "ask_human", title: "Ada asks: which year?", proposed_action: { question: "Which year?" } })],
    });
    const user = userEvent.setup();
    render(<Approvals />);
    const card = await screen.findByRole("article", { name: "Ada asks: which year?" });
    expect(within(card).getByText("Which year?")).toBeTruthy();
    await user.click(within(card).getByRole("button", { name: "Answer" }));
    await user.type(within(card).getByRole("textbox", { name: "Your answer" }), "2025");
    await user.click(within(card).getByRole("button", { name: "Send answer" }));
    await waitFor(() => expect(decided(calls)).toHaveLength(1));
    expect(decided(calls)[0]).toEqual({ id: "q1", decision: { verdict: "edit", edited_action: { answer: "2025" } } });
  });

  it("says so when nothing waits", async () => {
    backend({ pending: [] });
    render(<Approvals />);
    expect(await screen.findByText("Nothing waiting for you")).toBeTruthy();
    expect(screen.getByRole("tab", { name: "Pending (0)" })).toBeTruthy();
  });

  it("shows an error panel with a retry when the inbox cannot be read", async () => {
    backend({ failList: true });
    render(<Approvals />);
    expect(await screen.findByText("database error: database is locked")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
  });

  it("lists decided requests in the History tab", async () => {
    const calls = backend({
      pending: [],
      history: [
        approval({
          id: "h1",
          title: "Ada wants to run code_run",
          status: "edited",
          decided_by: "human",
          decided_at: at(-2 * MINUTE),
          comment: "print 2 instead",
          edited_action: { tool: "code_run", arguments: { language: "python", code: "print(2)" } },
        }),
        approval({ id: "h2", title: "Wren wants to fetch a page", status: "rejected", decided_by: "human", decided_at: T2, comment: "not that site" }),
        approval({ id: "h3", title: "Too late", status: "expired", decided_by: "expiry", decided_at: T2, comment: "expired without a decision; rejected by default" }),
      ],
    });
    const user = userEvent.setup();
    render(<Approvals />);
    await screen.findByText("Nothing waiting for you");
    await user.click(screen.getByRole("tab", { name: "History" }));
    const table = await screen.findByRole("table", { name: "Approval history" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(3);
    expect(rows[0].textContent).toContain("approved with edits");
    expect(rows[0].textContent).toContain("print 2 instead");
    expect(rows[0].textContent).toContain('"code": "print(2)"');
    expect(rows[1].textContent).toContain("rejected");
    expect(rows[1].textContent).toContain("not that site");
    expect(rows[2].textContent).toContain("expired (rejected)");
    expect(rows[2].textContent).toContain("expiry");
    expect(calls.some((c) => c.cmd === "approvals_history")).toBe(true);
  });
});

const T2 = at(-10 * MINUTE);
