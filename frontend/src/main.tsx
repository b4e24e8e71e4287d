import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ApiClient } from "./api/client";
import { App } from "./App";
import { loadRuntimeConfig } from "./config";
import "./styles.css";

void loadRuntimeConfig().then(() => {
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <App api={new ApiClient()} />
    </StrictMode>,
  );
});
