// Who is signed in. The session itself is the HttpOnly cookie the gateway sets: this code only
// asks /api/auth/me who that is, and never sees or stores the token.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import type { AuthAnswer, UserPrivate } from "../api/types";
import { useApi } from "../services";

export type AuthState =
  | { status: "loading" }
  | { status: "unreachable" }
  | { status: "signed-out" }
  | { status: "signed-in"; user: UserPrivate };

export interface SignupForm {
  email: string;
  username: string;
  password: string;
}

interface AuthApi {
  state: AuthState;
  login(email: string, password: string): Promise<void>;
  signup(form: SignupForm): Promise<void>;
  logout(): Promise<void>;
  /** Re-asks /me; false when the session is gone. */
  recheck(): Promise<boolean>;
  setUser(user: UserPrivate): void;
}

const AuthContext = createContext<AuthApi | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const api = useApi();
  const [state, setState] = useState<AuthState>({ status: "loading" });
  const stateRef = useRef(state);
  stateRef.current = state;

  const recheck = useCallback(async (): Promise<boolean> => {
    try {
      const user = await api.get<UserPrivate>("/api/auth/me");
      setState({ status: "signed-in", user });
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        setState({ status: "signed-out" });
        return false;
      }
      // Unreachable or a 5xx: keep whoever was signed in; say so if nobody was yet.
      setState((prev) => (prev.status === "loading" ? { status: "unreachable" } : prev));
      return true;
    }
  }, [api]);

  useEffect(() => {
    void recheck();
    return api.connectivity.onRecovered(() => {
      if (stateRef.current.status === "unreachable") void recheck();
    });
  }, [api, recheck]);

  const login = useCallback(async (email: string, password: string) => {
    const answer = await api.post<AuthAnswer>("/api/auth/login", { email, password });
    setState({ status: "signed-in", user: answer.user });
  }, [api]);

  const signup = useCallback(async (form: SignupForm) => {
    const answer = await api.post<AuthAnswer>("/api/auth/signup", form);
    setState({ status: "signed-in", user: answer.user });
  }, [api]);

  const logout = useCallback(async () => {
    try {
      await api.post<void>("/api/auth/logout");
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    }
    setState({ status: "signed-out" });
  }, [api]);

  const setUser = useCallback((user: UserPrivate) => setState({ status: "signed-in", user }), []);

  const value = useMemo(() => ({ state, login, signup, logout, recheck, setUser }),
                        [state, login, signup, logout, recheck, setUser]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthApi {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}

export function useSignedInUser(): UserPrivate {
  const { state } = useAuth();
  if (state.status !== "signed-in") throw new Error("no signed-in user");
  return state.user;
}
