import { StrictMode, useEffect } from "react";
import { createRoot } from "react-dom/client";
import { uiPainted } from "./commands";
import { App } from "./App";
import "./styles.css";

/** Tells the app once the first frame with the UI is painted (the start-up
 *  benchmark's signal; the app ignores it unless ENSEMBLE_BENCH_READY is set). */
function FirstPaint() {
  useEffect(() => {
    requestAnimationFrame(() => setTimeout(() => uiPainted().catch(() => {}), 0));
  }, []);
  return null;
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
      <FirstPaint />
    </StrictMode>,
  );
}
