import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App";
import { applyTheme } from "./hooks/theme";
import { SessionManager } from "./lib/session";
import "./index.css";

// Before the first paint, so the page never flashes the wrong theme.
applyTheme();

// The gateway serves the dashboard and the API from one origin.
const baseUrl = window.location.origin;
const manager = new SessionManager({ baseUrl });
manager.restore();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App manager={manager} baseUrl={baseUrl} />
  </StrictMode>,
);
