// The app's long-lived objects, made once and handed down: the API client (with its
// connectivity store). Tests pass their own.
import { createContext, useContext, type ReactNode } from "react";
import { ApiClient } from "./api/client";

const ServicesContext = createContext<ApiClient | null>(null);

export function ServicesProvider({ api, children }: { api: ApiClient; children: ReactNode }) {
  return <ServicesContext.Provider value={api}>{children}</ServicesContext.Provider>;
}

export function useApi(): ApiClient {
  const api = useContext(ServicesContext);
  if (!api) throw new Error("useApi outside ServicesProvider");
  return api;
}
