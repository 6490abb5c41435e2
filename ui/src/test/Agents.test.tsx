import { describe, expect, it } from "vitest";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { Agents } from "../views/Agents";
import { agent } from "./fixtures";

const TEMPLATES = [
  {
    key: "analyst",
    name: "Analyst",
    role: "analyst",
    description: "Queries data",
    system_prompt: "You are a data analyst.",
    capabilities: ["sql_query", "data_analysis"],
    allowed_tools: ["sql_query"],
    autonomy: "copilot",
    personality: {},
  },
];

describe("Agents view", () => {
  it("lists agents from the backend", async () => {
    mockIPC((cmd) => {
      if (cmd === "agents_list") return { items: [agent(), agent({ id: "a2", name: "Wren", role: "writer" })], total: 2, limit: 100, offset: 0 };
      return [];
    });
    render(<Agents />);
    expect(await screen.findByText("Ada")).toBeTruthy();
    expect(screen.getByText("Wren")).toBeTruthy();
  });

  it("creates an agent from a template", async () => {
    const created: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "agents_list") return { items: [], total: 0, limit: 100, offset: 0 };
      if (cmd === "agent_templates") return TEMPLATES;
      if (cmd === "providers_list") return [];
      if (cmd === "agents_create") {
        created.push((args as { input: unknown }).input);
        return agent({ name: "Quinn" });
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Agents />);
    await user.click(await screen.findByTestId("new-agent"));
    await screen.findByRole("option", { name: /Analyst/ });
    await user.selectOptions(screen.getByRole("combobox", { name: /template/i }), "analyst");
    const name = screen.getByRole("textbox", { name: "Name" }) as HTMLInputElement;
    expect(name.value).toBe("Analyst");
    await user.clear(name);
    await user.type(name, "Quinn");
    await user.click(screen.getByTestId("save-agent"));
    await waitFor(() => expect(created).toHaveLength(1));
    expect(created[0]).toMatchObject({
      name: "Quinn",
      template: "analyst",
      capabilities: ["sql_query", "data_analysis"],
      autonomy: "copilot",
    });
  });

  it("shows the backend's validation message and keeps the form open", async () => {
    mockIPC((cmd) => {
      if (cmd === "agents_list") return { items: [], total: 0, limit: 100, offset: 0 };
      if (cmd === "agent_templates" || cmd === "providers_list") return [];
      if (cmd === "agents_create") throw { code: "VALIDATION", message: "temperature: must be between 0 and 2, got 5" };
      return null;
    });
    const user = userEvent.setup();
    render(<Agents />);
    await user.click(await screen.findByTestId("new-agent"));
    await user.type(screen.getByRole("textbox", { name: "Name" }), "Broken");
    await user.click(screen.getByTestId("save-agent"));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", "temperature: must be between 0 and 2, got 5");
    expect(screen.getByRole("dialog")).toBeTruthy();
  });

  it("shows an error panel with a retry when the list fails", async () => {
    let fail = true;
    mockIPC((cmd) => {
      if (cmd === "agents_list") {
        if (fail) throw { code: "DATABASE_BUSY", message: "database error: database is locked" };
        return { items: [agent()], total: 1, limit: 100, offset: 0 };
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Agents />);
    expect(await screen.findByText("database error: database is locked")).toBeTruthy();
    fail = false;
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("Ada")).toBeTruthy();
  });
});
