import { afterEach, beforeEach, vi } from "vitest";
import { cleanup } from "@testing-library/react";
import { clearMocks } from "@tauri-apps/api/mocks";
import { NOW } from "./clock";

// Every test starts at the same instant (clock.ts): only `Date` is faked and
// it keeps ticking, so timers, user-event and `waitFor` run as usual. A test
// may install its own fake timers (Approvals does); they are undone here.
beforeEach(() => {
  vi.useFakeTimers({ now: NOW, toFake: ["Date"], shouldAdvanceTime: true });
});

afterEach(() => {
  cleanup();
  clearMocks();
  vi.useRealTimers();
});
